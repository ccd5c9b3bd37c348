"""Native connections across server processes (one PostgreSQL, one Redis): a message sent
through one process is pushed on another, and a kick through one process closes the
kicked device's gateway connection on another at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from gateway_native.client import Client, Endpoint
from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess

pytestmark = pytest.mark.skipif(
    not backends.IS_POSTGRES, reason="several processes need PostgreSQL + Redis (PRIVCHAT_TEST_BACKEND=postgres)"
)
PASSWORD = "multinode-gw-pass-1"


@pytest.fixture(scope="module")
def pair(server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory) -> list[ServerProcess]:
    database = asyncio.run(db_factory.new())
    prefix = "gw" + uuid.uuid4().hex[:8]
    return [server_factory(database=database, key_prefix=prefix) for _ in range(2)]


async def native(server: ServerProcess, username: str, device_id: str, *, register: bool) -> Client:
    client = Client(Endpoint("tcp", "127.0.0.1", server.tcp_port), device_id=device_id, reconnect=False)
    if register:
        await client.register(username, PASSWORD)
    await client.login(username, PASSWORD)
    return client


async def test_push_and_kick_cross_processes(pair: list[ServerProcess]) -> None:
    a, b = pair
    suffix = uuid.uuid4().hex[:6]
    ann_on_a = await native(a, f"ann{suffix}", "phone", register=True)
    bob_phone_on_a = await native(a, f"bob{suffix}", "phone", register=True)
    bob_laptop_on_b = await native(b, f"bob{suffix}", "laptop", register=False)
    try:
        for client in (ann_on_a, bob_phone_on_a, bob_laptop_on_b):
            await client.start()
        assert bob_laptop_on_b.user_id is not None
        channel = await ann_on_a.open_direct(bob_laptop_on_b.user_id)
        for i in range(10):
            await ann_on_a.send_text(channel, f"via a {i}")
        async with asyncio.timeout(20):
            await bob_laptop_on_b.wait_for(channel, 10)
        assert bob_laptop_on_b.texts(channel) == [f"via a {i}" for i in range(10)]
        assert bob_laptop_on_b.live_applied == 10

        await bob_phone_on_a.call("device/kick", {"deviceId": "laptop"})
        async with asyncio.timeout(20):
            ended = await bob_laptop_on_b.wait_ended()
        assert (ended.code, ended.reason) == ("SESSION_REVOKED", "this device session was kicked")
    finally:
        for client in (ann_on_a, bob_phone_on_a, bob_laptop_on_b):
            await client.close()
