"""Live delivery: one bus subscription per process, fanned out to local listeners.

Producers call `EventHub.deliver(user_ids, message)` after commit. The message crosses
the bus once (whatever the number of recipients) and every process hands it to the
listeners (WebSocket subscriptions, native connections) of those users it holds.

Each listener has a bounded queue: a consumer that cannot keep up is not allowed to
grow memory or slow others; its queue is dropped and replaced by one
`resync_required` item, after which the client re-syncs by pts/seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from app.bus import EventBus
from app.context import Principal
from app.errors import AppError, ErrorCode

log = logging.getLogger(__name__)

DELIVER_TOPIC = "deliver"
RESYNC = {"type": "resync_required", "reason": "overflow"}
SESSION_READY = "session_ready"
# Called when a device's live stream opens and closes (presence); must not raise.
ConnectionHook = Callable[["Listener"], Awaitable[None]]


class Listener:
    """One device connection's live feed. With `hold`, items wait (bounded) until the
    device says `sync/session_ready`, so nothing falls between its sync and live delivery."""

    def __init__(self, principal: Principal, maxsize: int, *, hold: bool = False) -> None:
        self.principal = principal
        self.maxsize = maxsize
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self._held: list[dict[str, Any]] | None = [] if hold else None
        self._resync_pending = False
        self.overflows = 0

    def release(self) -> None:
        held, self._held = self._held, None
        for message in held or ():
            self.offer(message)

    def offer(self, message: dict[str, Any]) -> None:
        if self._held is not None:
            if len(self._held) < self.maxsize:
                self._held.append(message)
            else:
                self.overflows += 1
                self._held = [RESYNC]
            return
        if self._resync_pending:
            # The client has not yet taken the resync marker; the sync it is about to do
            # reads this event from the database anyway.
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # Everything queued is now useless: the client must re-sync from its last
            # pts/seq, so replace it all with the single instruction to do so.
            self.overflows += 1
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(RESYNC)
            self._resync_pending = True

    def _taken(self, message: dict[str, Any]) -> dict[str, Any]:
        if message is RESYNC:
            self._resync_pending = False
        return message

    async def get(self) -> dict[str, Any]:
        return self._taken(await self._queue.get())

    def get_nowait(self) -> dict[str, Any]:
        return self._taken(self._queue.get_nowait())

    def pending(self) -> int:
        return self._queue.qsize()


class EventHub:
    def __init__(
        self,
        *,
        bus: EventBus,
        queue_size: int = 1000,
        on_connect: ConnectionHook | None = None,
        on_disconnect: ConnectionHook | None = None,
    ) -> None:
        self.bus = bus
        self.queue_size = queue_size
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self._listeners: dict[int, set[Listener]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._pump(ready), name="event-hub")
        await asyncio.wait_for(ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _pump(self, ready: asyncio.Event) -> None:
        async with self.bus.subscribe(DELIVER_TOPIC) as subscription:
            ready.set()
            async for envelope in subscription:
                try:
                    self._dispatch(envelope["to"], envelope["m"])
                except (KeyError, TypeError):
                    log.warning("malformed delivery envelope dropped")

    def _dispatch(self, user_ids: Iterable[int], message: dict[str, Any]) -> None:
        if message.get("type") == SESSION_READY:
            for user_id in user_ids:
                for listener in self._listeners.get(user_id, ()):
                    if listener.principal.session_id == message.get("sessionId"):
                        listener.release()
            return
        for user_id in user_ids:
            for listener in self._listeners.get(user_id, ()):
                listener.offer(message)

    async def deliver(self, user_ids: Iterable[int], message: dict[str, Any]) -> None:
        """Hand `message` to every live listener of these users, on every process."""
        recipients = sorted(set(user_ids))
        if recipients:
            await self.bus.publish(DELIVER_TOPIC, {"to": recipients, "m": message})

    async def session_ready(self, principal: Principal) -> None:
        """Release what the device's listeners (on any process) held back during its sync."""
        await self.deliver([principal.user_id], {"type": SESSION_READY, "sessionId": principal.session_id})

    @contextlib.asynccontextmanager
    async def listen(self, principal: Principal, *, hold: bool = False) -> AsyncIterator[Listener]:
        listener = Listener(principal, self.queue_size, hold=hold)
        self._listeners[principal.user_id].add(listener)
        try:
            if self.on_connect is not None:
                await self.on_connect(listener)
            yield listener
        finally:
            listeners = self._listeners.get(principal.user_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[principal.user_id]
            if self.on_disconnect is not None:
                await self.on_disconnect(listener)

    def connected_users(self) -> int:
        return len(self._listeners)

    async def stream(self, principal: Principal, *, hold: bool = False) -> AsyncIterator[dict[str, Any]]:
        """The live items for one device. Ends with SESSION_REVOKED once this very device
        session is revoked (after delivering the revocation itself)."""
        async with self.listen(principal, hold=hold) as listener:
            while True:
                message = await listener.get()
                yield message
                if revokes_session(message, principal.session_id):
                    raise AppError(ErrorCode.SESSION_REVOKED, "this device session was revoked")


def revokes_session(message: dict[str, Any], session_id: int) -> bool:
    return (
        message.get("type") == "user_update"
        and message.get("kind") == "session_revoked"
        and session_id in message.get("payload", {}).get("sessionIds", ())
    )
