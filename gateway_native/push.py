"""PUSH: the per-user event stream GraphQL subscriptions deliver, as frames.

Each ready connection holds an `EventHub` listener (opened with `hold=True` before
CONNECT_ACK, released when the device calls `sync/session_ready`, exactly like the
`events(holdUntilReady: true)` subscription). Items become the same GraphQL objects
(`schema.fanout.shared_event_object`) and go out as maps with `__typename` (`Api.to_wire`),
encoded once per item per process (`PushFrames`).

Revocations are also watched per process, apart from the listeners: a listener holds
items until session_ready and drops them when it overflows, but a kicked device's
connection must close at once in every case.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.bus import EventBus
from app.events import DELIVER_TOPIC, Listener
from gateway_native.codec import FrameType, encode_repaired
from schema.build import Api
from schema.fanout import ITEMS_KEPT, IdentityCache, shared_event_object

log = logging.getLogger(__name__)

PushSink = Callable[[bytes], None]  # takes an encoded PUSH frame
RevocationSink = Callable[[list[int], str], None]


def push_body(api: Api, message: dict[str, Any]) -> dict[str, Any] | None:
    """The PUSH body for one hub item (None: not meant for clients)."""
    item = shared_event_object(message)
    if item is None:
        return None
    return {"event": api.to_wire(item)}


class PushFrames:
    """PUSH frames, encoded once per hub item per process: the hub hands the same item to
    every listener here (all devices of a user, all members of a group), so the GraphQL
    object, its map and the frame's bytes are made once and written to every connection."""

    def __init__(
        self, api: Api, size: int = ITEMS_KEPT, on_repaired: Callable[[FrameType, list[str]], None] | None = None
    ) -> None:
        self._api = api
        self._frames: IdentityCache[bytes | None] = IdentityCache(size)
        self._on_repaired = on_repaired

    @property
    def encodings(self) -> int:
        return self._frames.misses

    def frame(self, message: dict[str, Any]) -> bytes | None:
        return self._frames.get(message, None, lambda: self._encode(message))

    def _encode(self, message: dict[str, Any]) -> bytes | None:
        body = push_body(self._api, message)
        if body is None:
            return None
        frame, repaired = encode_repaired(FrameType.PUSH, body)
        if repaired and self._on_repaired is not None:
            self._on_repaired(FrameType.PUSH, repaired)
        return frame


async def pump(listener: Listener, frames: PushFrames, sink: PushSink, writable: Callable[[], Awaitable[None]]) -> None:
    """Forward a listener's items until cancelled (when the connection closes). Waits while
    the connection cannot write, so a slow reader overflows its bounded hub queue (and is
    told to resync) instead of growing buffers here."""
    while True:
        await writable()
        message = await listener.get()
        try:
            frame = frames.frame(message)
        except Exception:
            # One malformed item must not end the device's stream; its pts gap heals by sync.
            log.exception("dropping a live item that cannot be pushed")
            continue
        if frame is not None:
            sink(frame)


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
