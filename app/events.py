"""Live delivery: one bus subscription per process, fanned out to local listeners.

Producers call `EventHub.deliver(user_ids, message)` after commit. The message crosses
the bus once (whatever the number of recipients) and every process hands it to the
listeners (WebSocket subscriptions, native connections) of those users it holds.
`deliver_each` does the same for many messages with one recipient each (user updates:
each carries its user's own seq) in one bus message.

Each listener has a bounded queue: a consumer that cannot keep up is not allowed to
grow memory or slow others; its queue is dropped and replaced by one
`resync_required` item, after which the client re-syncs by pts/seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from app.bus import EventBus
from app.errors import AppError, ErrorCode
from app.metrics import Metrics
from app.principal import Principal

log = logging.getLogger(__name__)

DELIVER_TOPIC = "deliver"
# Items of one `deliver_each` bus message (bounds its size: about 0.5 KB an item).
EACH_PER_ENVELOPE = 500
RESYNC = {"type": "resync_required", "reason": "overflow"}
SESSION_READY = "session_ready"
# A device may say `session_ready` before its held stream is registered: the subscription
# is set up in its own task, and the sync requests that precede the ready may overtake
# it. Such an early ready is remembered this long, so the stream starts released instead
# of holding forever. (Releasing early is safe: the client applies events by the gap rule.)
EARLY_READY_TTL_S = 60.0
STOP_TIMEOUT_S = 5.0  # how long stopping waits for the bus subscription to close
MAX_EARLY_READY = 10_000
# Called when a device's live stream opens and closes (presence); must not raise.
ConnectionHook = Callable[["Listener"], Awaitable[None]]


class Listener:
    """One device connection's live feed. With `hold`, items wait (bounded) until the
    device says `sync/session_ready`, so nothing falls between its sync and live delivery."""

    def __init__(
        self, principal: Principal, maxsize: int, *, hold: bool = False, on_overflow: Callable[[], None] | None = None
    ) -> None:
        self.principal = principal
        self.maxsize = maxsize
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self._held: list[dict[str, Any]] | None = [] if hold else None
        self._resync_pending = False
        self._on_overflow = on_overflow
        self.overflows = 0

    def _overflowed(self) -> None:
        self.overflows += 1
        if self._on_overflow is not None:
            self._on_overflow()

    @property
    def holding(self) -> bool:
        return self._held is not None

    def release(self) -> None:
        held, self._held = self._held, None
        for message in held or ():
            self.offer(message)

    def offer(self, message: dict[str, Any]) -> None:
        if self._held is not None:
            if len(self._held) < self.maxsize:
                self._held.append(message)
            else:
                self._overflowed()
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
            self._overflowed()
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
        metrics: Metrics | None = None,
    ) -> None:
        self.bus = bus
        self.metrics = metrics
        self.queue_size = queue_size
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self._listeners: dict[int, set[Listener]] = defaultdict(set)
        self._early_ready: dict[int, float] = {}  # session id -> monotonic expiry
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._pump(ready), name="event-hub")
        await asyncio.wait_for(ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Its clean-up unsubscribes from the bus (a Redis round trip): bounded, so a
            # stuck connection cannot hold shutdown.
            done, _ = await asyncio.wait({self._task}, timeout=STOP_TIMEOUT_S)
            if not done:
                log.warning("the event hub's bus subscription did not close in %.0fs", STOP_TIMEOUT_S)
            self._task = None

    async def _pump(self, ready: asyncio.Event) -> None:
        async with self.bus.subscribe(DELIVER_TOPIC) as subscription:
            ready.set()
            async for envelope in subscription:
                try:
                    if self.metrics is not None and isinstance(envelope.get("t"), float):
                        self.metrics.bus_lag.observe(max(0.0, time.time() - envelope["t"]))
                    if "each" in envelope:
                        for user_id, message in envelope["each"]:
                            self._dispatch((user_id,), message)
                    else:
                        self._dispatch(envelope["to"], envelope["m"])
                except (KeyError, TypeError, ValueError):
                    log.warning("malformed delivery envelope dropped")

    def _dispatch(self, user_ids: Iterable[int], message: dict[str, Any]) -> None:
        if message.get("type") == SESSION_READY:
            released = False
            for user_id in user_ids:
                for listener in self._listeners.get(user_id, ()):
                    if listener.principal.session_id == message.get("sessionId") and listener.holding:
                        listener.release()
                        released = True
            if not released and isinstance(message.get("sessionId"), int):
                self._remember_early_ready(message["sessionId"])
            return
        offered = 0
        for user_id in user_ids:
            for listener in self._listeners.get(user_id, ()):
                listener.offer(message)
                offered += 1
        if offered and self.metrics is not None:
            self.metrics.deliveries.inc(offered)

    async def deliver(self, user_ids: Iterable[int], message: dict[str, Any]) -> None:
        """Hand `message` to every live listener of these users, on every process."""
        recipients = sorted(set(user_ids))
        if recipients:
            # "t": publishing time, so receivers can measure bus lag.
            await self.bus.publish(DELIVER_TOPIC, {"to": recipients, "m": message, "t": time.time()})
            if self.metrics is not None:
                self.metrics.bus_published.labels("deliver").inc()

    async def deliver_each(self, items: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Hand each message to the live listeners of its one user, on every process: one
        bus message per EACH_PER_ENVELOPE items, not one per item (a profile change told
        to 500 group members, each with their own seq, crosses the bus once)."""
        for start in range(0, len(items), EACH_PER_ENVELOPE):
            chunk = [[user_id, message] for user_id, message in items[start : start + EACH_PER_ENVELOPE]]
            await self.bus.publish(DELIVER_TOPIC, {"each": chunk, "t": time.time()})
            if self.metrics is not None:
                self.metrics.bus_published.labels("deliver").inc()

    async def session_ready(self, principal: Principal) -> None:
        """Release what the device's listeners (on any process) held back during its sync."""
        await self.deliver([principal.user_id], {"type": SESSION_READY, "sessionId": principal.session_id})

    def _remember_early_ready(self, session_id: int) -> None:
        now = time.monotonic()
        if len(self._early_ready) >= MAX_EARLY_READY:
            self._early_ready = {s: t for s, t in self._early_ready.items() if t > now}
            if len(self._early_ready) >= MAX_EARLY_READY:
                return  # a flood of ready calls: their streams hold until the next ready
        self._early_ready[session_id] = now + EARLY_READY_TTL_S

    def _was_ready(self, session_id: int) -> bool:
        expiry = self._early_ready.pop(session_id, None)
        return expiry is not None and expiry > time.monotonic()

    @contextlib.asynccontextmanager
    async def listen(self, principal: Principal, *, hold: bool = False) -> AsyncIterator[Listener]:
        if hold and self._was_ready(principal.session_id):
            hold = False  # the device finished its sync before this stream was set up
        on_overflow = self.metrics.live_overflows.inc if self.metrics is not None else None
        listener = Listener(principal, self.queue_size, hold=hold, on_overflow=on_overflow)
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
