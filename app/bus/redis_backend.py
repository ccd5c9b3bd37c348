"""A Redis pub/sub backend for `broadcaster` that survives Redis outages.

broadcaster 0.3's own Redis backend wakes its reader before SUBSCRIBE has completed;
redis-py's `listen()` then ends at once (nothing subscribed yet) and the reader goes
back to sleep for good, so no message is ever received. This backend subscribes first
and reads with `get_message`.

Redis is only the way *between* processes: a message published here is handed to this
process's own subscribers directly (and tagged with this process's origin, so the copy
coming back from Redis is dropped). So while Redis is down, live delivery inside a
process keeps working; once a publish has failed, publishing to Redis is skipped (no
send waits for a dead Redis) until the reader finds Redis answering again (it probes
every 0.25 s) and re-subscribes everything, also what was subscribed meanwhile.
What other processes published during the outage is lost: bus messages are hints,
clients heal through sync (every event carries a pts or seq).

Publishing to Redis is coalesced and does not wait for Redis: a publish hands the message
to this process's subscribers, queues it for Redis and returns (a sender is answered after
its commit, not after a Redis round trip more). One publisher task sends what is queued,
one pipeline per batch (one write, one round trip): every publish made while a batch is on
the wire goes out in the next one, in publishing order. Under load a batch carries many
messages and redis-py's per-command cost (~100 us of CPU for a lone PUBLISH, ~15 us
pipelined) is paid once per batch. Past MAX_UNSENT queued messages (Redis slow, not down)
publishers wait for the queue to drain: memory stays bounded. `flush()` waits until what
was published so far has gone out (or Redis was found down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from typing import Any

from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend

from app.redis_client import UNREACHABLE, redis_client

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.25  # how soon after a failure Redis is tried again (publish and reader)
MAX_UNSENT = 10_000  # messages queued for Redis past which publishers wait


class RedisPubSubBackend(BroadcastBackend):
    def __init__(self, url: str) -> None:
        self._conn = redis_client(url)
        self._pubsub = self._conn.pubsub(ignore_subscribe_messages=True)
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._channels: set[str] = set()
        self._wanted = asyncio.Event()
        self._resubscribe = False
        self._reader: asyncio.Task[None] | None = None
        # "<pid>.<random>|": unique per process, never the start of a JSON message.
        self._origin = f"{os.getpid()}.{uuid.uuid4().hex[:8]}|".encode()
        self._down_since: float | None = None
        self._outgoing: list[tuple[str, bytes]] = []
        self._publisher: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """False while Redis is known to be unreachable."""
        return self._down_since is None

    async def connect(self) -> None:
        await self._conn.ping()
        self._reader = asyncio.create_task(self._read(), name="redis-pubsub-reader")

    async def disconnect(self) -> None:
        if self._publisher is not None:  # let the last batch go out (bounded)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._publisher, 5.0)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._conn.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._wanted.set()
        if self._down_since is not None:
            self._resubscribe = True
            return
        try:
            await self._pubsub.subscribe(channel)
        except UNREACHABLE as exc:
            self._went_down(exc)
            self._resubscribe = True

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._down_since is None:
            with contextlib.suppress(*UNREACHABLE):
                await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        self._queue.put_nowait(Event(channel=channel, message=message))
        if self._down_since is not None:
            return  # known down: the reader notices when it is back (within RETRY_SECONDS)
        body = message if isinstance(message, bytes) else str(message).encode()
        self._outgoing.append((channel, self._origin + body))
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_batches(), name="redis-publisher")
        if len(self._outgoing) > MAX_UNSENT:
            await self.flush()

    async def flush(self) -> None:
        """Wait until everything published so far has been sent to Redis, or dropped
        because Redis is down. A cancelled caller does not cancel the publisher."""
        if self._publisher is not None and not self._publisher.done():
            await asyncio.wait({self._publisher})

    async def _publish_batches(self) -> None:
        """Send what is waiting, one pipeline per batch, until nothing is left."""
        while self._outgoing and self._down_since is None:
            batch, self._outgoing = self._outgoing, []
            try:
                async with self._conn.pipeline(transaction=False) as pipe:
                    for channel, message in batch:
                        pipe.publish(channel, message)
                    await pipe.execute()
            except UNREACHABLE as exc:
                # Other processes miss these (they heal through sync, like everything
                # published while Redis is down); this process's subscribers have them.
                self._went_down(exc)
            except Exception:
                log.exception("publishing %d bus messages to Redis failed", len(batch))
        if self._down_since is not None:
            self._outgoing.clear()  # found down meanwhile (by the reader): these are lost to other processes

    async def next_published(self) -> Event:
        return await self._queue.get()

    def _went_down(self, exc: BaseException) -> None:
        # The reader probes Redis from now on (also with nothing subscribed) and clears this.
        self._resubscribe = True
        self._wanted.set()
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("Redis unreachable (%s): bus messages reach this process only until it is back", exc)

    def _came_back(self) -> None:
        if self._down_since is not None:
            log.info(
                "Redis reachable again after %.1fs: bus messages cross processes again",
                time.monotonic() - self._down_since,
            )
            self._down_since = None

    async def _read(self) -> None:
        while True:
            await self._wanted.wait()
            try:
                if self._resubscribe:
                    self._resubscribe = False
                    channels = list(self._channels)
                    if channels:
                        await self._pubsub.subscribe(*channels)
                    else:
                        await self._conn.ping()
                    self._came_back()
                message = await self._pubsub.get_message(timeout=1.0)
                if self._down_since is not None:
                    self._came_back()
            except UNREACHABLE as exc:
                self._went_down(exc)
                self._resubscribe = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if message is not None and message.get("type") == "message":
                self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        data = message["data"]
        data = data if isinstance(data, bytes) else str(data).encode()
        if not data.startswith(b"{"):
            origin, sep, body = data.partition(b"|")
            if sep:
                if origin + b"|" == self._origin:
                    return  # our own message: already delivered locally
                data = body
        # broadcaster hands the message through untouched: ours are bytes (app/fastjson.py).
        name = channel.decode() if isinstance(channel, bytes) else channel
        self._queue.put_nowait(Event(channel=name, message=data))  # type: ignore[arg-type]
