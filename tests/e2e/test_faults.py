"""The service through real outages: its own redis-server killed and restarted, PostgreSQL
cut off by a TCP proxy between server and database (the shared services are never touched)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.faults import RedisServer, TcpProxy
from tests.support.server import ServerProcess
from tests.support.sync_client import ClientError, SyncClient

pytestmark = pytest.mark.skipif(
    not backends.IS_POSTGRES or not RedisServer.available(),
    reason="outages of PostgreSQL + Redis (PRIVCHAT_TEST_BACKEND=postgres, redis-server installed)",
)
PASSWORD = "faults-pass-1"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    redis = RedisServer(tmp_path / "redis").start()
    yield redis
    redis.stop()


async def user(server: ServerProcess, name: str, device: str = "phone") -> SyncClient:
    client = SyncClient(server.base_url, name, PASSWORD, device)
    await client.register()
    await client.login()
    return client


async def readyz(server: ServerProcess) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(f"{server.service_url}/readyz")


def internal_errors(server: ServerProcess) -> float:
    """INTERNAL answers counted by the server (privchat_rpc_total{code="INTERNAL"})."""
    text = httpx.get(f"{server.service_url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("privchat_rpc_total{") and 'code="INTERNAL"' in line
    )


async def test_redis_outage_keeps_sends_acknowledged_and_delivery_heals_when_it_returns(
    server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory, own_redis: RedisServer
) -> None:
    database = await db_factory.new()
    prefix = "rf" + uuid.uuid4().hex[:8]
    env = {"REDIS_URL": own_redis.url}
    one = server_factory(database=database, key_prefix=prefix, extra_env=env)
    two = server_factory(database=database, key_prefix=prefix, extra_env=env)
    s = uuid.uuid4().hex[:6]
    ann, bob, cid = await user(one, f"ann{s}"), await user(one, f"bob{s}"), await user(two, f"cid{s}")
    late = SyncClient(one.base_url, ann.username, PASSWORD, "tablet")
    try:
        to_ann = await bob.open_direct(ann.user_id or "")
        to_cid = await bob.open_direct(cid.user_id or "")
        await ann.connect()  # live on process one, where bob sends
        await cid.connect()  # live on process two
        await bob.send_text(to_cid, "before")
        await cid.wait_for(to_cid, 1)

        own_redis.stop()
        # Every send is acknowledged: rate limits fall back to a per-process budget.
        for i in range(20):
            await bob.send_text(to_ann, f"down-{i}")
        await bob.send_text(to_cid, "down-cid")
        # Live delivery inside a process keeps working.
        await ann.wait_for(to_ann, 20, timeout=10)
        assert ann.live_applied == 20
        assert ann.texts(to_ann) == [f"down-{i}" for i in range(20)]
        # A new `events` subscription while Redis is down works too (the bus is local first).
        await late.login()
        await late.connect()
        await bob.send_text(to_ann, "down-late")
        await late.wait_for(to_ann, 21, timeout=10)
        # /readyz: still ready (the database answers), and says Redis is unreachable.
        ready = await readyz(one)
        assert ready.status_code == 200 and ready.json()["redis"] is False

        own_redis.start()
        restarted = time.monotonic()
        # Across processes, live delivery resumes: a message sent after the bus is back
        # reaches cid live (pts 1 and 2 were "before" and "down-cid"; the first live event
        # after the gap may be applied through the sync that heals the gap, so what counts
        # is that it arrived live at all). The deadline is generous: a loaded CI box is slow,
        # the time it took is printed.
        n = 0
        while cid.live_seen.get(to_cid, 0) <= 2:
            n += 1
            await bob.send_text(to_cid, f"after-{n}")
            await asyncio.sleep(0.1)
            assert time.monotonic() - restarted < 30, "live delivery across processes did not resume"
        recovered = time.monotonic() - restarted
        await cid.wait_for(to_cid, 2 + n, timeout=10)
        assert cid.texts(to_cid) == ["before", "down-cid", *[f"after-{i + 1}" for i in range(n)]]
        # No request fails after Redis is back: pooled connections were health-checked.
        for i in range(10):
            await bob.send_text(to_cid, f"steady-{i}")
            await cid.gql("query { channelList(input: {limit: 5}) { nextCursor } }")
        await cid.wait_for(to_cid, 12 + n, timeout=10)
        assert internal_errors(one) == 0 and internal_errors(two) == 0
        assert (await readyz(one)).json()["redis"] is True
        print(f"cross-process live delivery resumed {recovered:.2f}s after Redis restarted")
    finally:
        for client in (ann, bob, cid, late):
            await client.close()


async def test_postgres_outage_answers_unavailable_then_the_pool_recovers(
    server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory
) -> None:
    database = await db_factory.new()
    pg_host, pg_port = "127.0.0.1", 5432
    proxy = TcpProxy(pg_host, pg_port).start()
    proxied = database.url.replace(f"@{pg_host}:{pg_port}/", f"@127.0.0.1:{proxy.port}/")
    assert proxied != database.url, database.url
    prefix = "pf" + uuid.uuid4().hex[:8]
    one = server_factory(database=database, key_prefix=prefix, extra_env={"DATABASE_URL": proxied})
    two = server_factory(database=database, key_prefix=prefix, extra_env={"DATABASE_URL": proxied})
    s = uuid.uuid4().hex[:6]
    ann, bob = await user(one, f"ann{s}"), await user(one, f"bob{s}")
    try:
        channel = await bob.open_direct(ann.user_id or "")
        await bob.send_text(channel, "before")

        proxy.cut()
        # A send fails with a typed, retryable error: never a false acknowledgement.
        with pytest.raises(ClientError) as refused:
            await bob.send_text(channel, "during", client_msg_id="during-1")
        assert refused.value.code == "UNAVAILABLE"
        assert "127.0.0.1" not in str(refused.value) and "5432" not in str(refused.value)
        # connection_init that cannot be checked closes with "try again later", not 4403.
        async with websockets.connect(
            two.ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {ann.token}"}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        # /readyz says so.
        ready = await readyz(one)
        assert ready.status_code == 503 and ready.json()["database"] is False

        proxy.restore()
        restored = time.monotonic()
        # The pool recovers without a restart (a retry of the refused send stores it once).
        while True:
            try:
                await bob.send_text(channel, "during", client_msg_id="during-1")
                break
            except ClientError as exc:
                assert exc.code == "UNAVAILABLE", exc.errors
                assert time.monotonic() - restored < 10, "the pool did not recover"
                await asyncio.sleep(0.2)
        for i in range(10):
            await bob.send_text(channel, f"after-{i}")
        assert (await readyz(one)).status_code == 200
        await ann.connect()
        assert ann.texts(channel) == ["before", "during", *[f"after-{i}" for i in range(10)]]
        assert internal_errors(one) == 0
    finally:
        await ann.close()
        await bob.close()
        proxy.close()
