"""The Redis pub/sub backend of the event bus against a real Redis: coalesced publishing
keeps every message, in each publisher's order, answers every caller; when Redis cannot
be reached no caller hangs or fails, and this process's own subscribers still get every
message (issue 15: the service keeps working through a Redis outage)."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from app.bus.redis_backend import RedisPubSubBackend
from tests.support import backends

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
    assert results == [None] * 10
    assert not backend.connected
    await asyncio.wait_for(backend.publish("c", b"10"), 0.05)
    local = [(await asyncio.wait_for(backend.next_published(), 1)).message for _ in range(11)]
    assert local == [str(i).encode() for i in range(11)]
    await backend.disconnect()
