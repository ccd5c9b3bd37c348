"""PUSH: the per-user event stream GraphQL subscriptions deliver, as frames.

Each ready connection holds an `EventHub` listener (opened with `hold=True` before
CONNECT_ACK, released when the device calls `sync/session_ready`, exactly like the
`events(holdUntilReady: true)` subscription). Items become the same GraphQL objects
(`schema.events.event_object`) and go out as maps with `__typename` (`Api.to_wire`).

Revocations are also watched per process, apart from the listeners: a listener holds
items until session_ready and drops them when it overflows, but a kicked device's
connection must close at once in every case.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from app.bus import EventBus
from app.events import DELIVER_TOPIC, Listener
from schema.build import Api
from schema.events import event_object

log = logging.getLogger(__name__)

PushSink = Callable[[dict[str, Any]], None]
RevocationSink = Callable[[list[int], str], None]


def push_body(api: Api, message: dict[str, Any]) -> dict[str, Any] | None:
    """The PUSH body for one hub item (None: not meant for clients)."""
    item = event_object(message)
    if item is None:
        return None
    return {"event": api.to_wire(item)}


class PushBodies:
    """PUSH bodies, built once per hub item per process: the hub hands the same item to
    every listener here (all devices of a user, all members of a group), and turning it
    into the GraphQL object and map is the costly part of a push."""

    def __init__(self, api: Api, size: int = 1024) -> None:
        self._api = api
        self._size = size
        # id(item) -> (item, body); keeping the item keeps its id from being reused.
        self._recent: OrderedDict[int, tuple[dict[str, Any], dict[str, Any] | None]] = OrderedDict()

    def body(self, message: dict[str, Any]) -> dict[str, Any] | None:
        found = self._recent.get(id(message))
        if found is not None and found[0] is message:
            return found[1]
        body = push_body(self._api, message)
        self._recent[id(message)] = (message, body)
        if len(self._recent) > self._size:
            self._recent.popitem(last=False)
        return body


async def pump(listener: Listener, bodies: PushBodies, sink: PushSink, writable: Callable[[], Awaitable[None]]) -> None:
    """Forward a listener's items until cancelled (when the connection closes). Waits while
    the connection cannot write, so a slow reader overflows its bounded hub queue (and is
    told to resync) instead of growing buffers here."""
    while True:
        await writable()
        message = await listener.get()
        try:
            body = bodies.body(message)
        except Exception:
            # One malformed item must not end the device's stream; its pts gap heals by sync.
            log.exception("dropping a live item that cannot be pushed")
            continue
        if body is not None:
            sink(body)


def revocation(message: dict[str, Any]) -> tuple[list[int], str] | None:
    """(session ids, reason) if the hub item revokes device sessions."""
    if message.get("type") != "user_update" or message.get("kind") != "session_revoked":
        return None
    payload = message.get("payload") or {}
    ids = [i for i in payload.get("sessionIds", ()) if isinstance(i, int)]
    return ids, str(payload.get("reason", "revoked"))


async def watch_revocations(bus: EventBus, sink: RevocationSink, ready: Callable[[], None]) -> None:
    """Every revocation delivered to any user, from any process, until cancelled."""
    async with bus.subscribe(DELIVER_TOPIC) as subscription:
        ready()
        async for envelope in subscription:
            with contextlib.suppress(AttributeError, TypeError):
                found = revocation(envelope.get("m") or {})
                if found is not None and found[0]:
                    sink(*found)
