"""The Redis pub/sub backend of the event bus against a real Redis: coalesced publishing
keeps every message, in each publisher's order, answers every caller; when Redis cannot
be reached no caller hangs or fails, and this process's own subscribers still get every
message (issue 15: the service keeps working through a Redis outage)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest

from app.bus import redis_backend
from app.bus.redis_backend import RedisPubSubBackend
from tests.support import backends
from tests.support.faults import TcpProxy

pytestmark = pytest.mark.skipif(not backends.IS_POSTGRES, reason="needs Redis (PRIVCHAT_TEST_BACKEND=postgres)")


async def test_concurrent_publishes_all_arrive_in_each_publishers_order() -> None:
    channel = f"bus-test-{uuid.uuid4().hex}"
    receiver, sender = RedisPubSubBackend(backends.REDIS_URL), RedisPubSubBackend(backends.REDIS_URL)
    await receiver.connect()
    await sender.connect()
    try:
        await receiver.subscribe(channel)
        await asyncio.sleep(0.2)  # SUBSCRIBE has reached Redis

        async def publisher(name: str) -> None:
            for i in range(40):
                await sender.publish(channel, f"{name}:{i}".encode())  # the bus publishes bytes

        # 25 concurrent publishers: their publishes share pipelines, none is lost.
        await asyncio.wait_for(asyncio.gather(*(publisher(f"p{n}") for n in range(25))), 30)
        seen: dict[str, list[int]] = {}
        for _ in range(25 * 40):
            event = await asyncio.wait_for(receiver.next_published(), 10)
            name, _, i = event.message.decode().partition(":")
            seen.setdefault(name, []).append(int(i))
        assert seen == {f"p{n}": list(range(40)) for n in range(25)}
    finally:
        await sender.disconnect()
        await receiver.disconnect()


async def test_every_waiting_caller_is_answered_when_redis_is_unreachable() -> None:
    """No caller hangs and none fails: the messages reach this process's own subscribers
    (the bus is local first), the backend knows Redis is down, and a publish made right
    after does not even try Redis again."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = RedisPubSubBackend(f"redis://127.0.0.1:{port}/0")
    results = await asyncio.wait_for(
        asyncio.gather(*(backend.publish("c", str(i).encode()) for i in range(10)), return_exceptions=True), 30
    )
    assert results == [None] * 10  # answered at once: a publish does not wait for Redis
    await asyncio.wait_for(backend.flush(), 30)  # the publisher tried, and found Redis down
    assert not backend.connected
    await asyncio.wait_for(backend.publish("c", b"10"), 0.05)
    local = [(await asyncio.wait_for(backend.next_published(), 1)).message for _ in range(11)]
    assert local == [str(i).encode() for i in range(11)]
    await backend.disconnect()


async def test_publishers_wait_once_too_much_is_queued_for_a_stalled_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """A publish does not wait for Redis, but memory stays bounded: past MAX_UNSENT queued
    messages a publisher waits until the queue has gone out (or Redis is found down)."""
    monkeypatch.setattr(redis_backend, "MAX_UNSENT", 3)
    proxy = TcpProxy("127.0.0.1", 6379).start()
    backend = RedisPubSubBackend(f"redis://127.0.0.1:{proxy.port}/0")
    try:
        await backend.connect()
        proxy.freeze()  # Redis stops answering; no reset, no close: a stall
        started = time.monotonic()
        for i in range(3):
            await backend.publish("c", str(i).encode())
        assert time.monotonic() - started < 0.5  # queued, not sent yet: nobody waited
        # The fourth is one too many: it waits until the stalled batch ends (Redis found
        # down after its socket timeout). Awaited directly: a task of its own would let the
        # publisher take the first three off the queue first.
        await backend.publish("c", b"3")
        assert time.monotonic() - started >= 1.0
        assert not backend.connected
        local = [(await asyncio.wait_for(backend.next_published(), 1)).message for _ in range(4)]
        assert local == [b"0", b"1", b"2", b"3"]  # this process's subscribers have all of them
    finally:
        proxy.thaw()
        await backend.disconnect()
        proxy.close()
