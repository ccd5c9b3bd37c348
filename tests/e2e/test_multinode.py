"""Several server processes behind one PostgreSQL and one Redis act as one service."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess
from tests.support.sync_client import SyncClient

pytestmark = pytest.mark.skipif(
    not backends.IS_POSTGRES, reason="several processes need PostgreSQL + Redis (PRIVCHAT_TEST_BACKEND=postgres)"
)
PASSWORD = "multinode-pass-1"


@pytest.fixture(scope="module")
def cluster(server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory) -> list[ServerProcess]:
    database = asyncio.run(db_factory.new())
    prefix = "mn" + uuid.uuid4().hex[:8]
    return [server_factory(database=database, key_prefix=prefix) for _ in range(3)]


async def client_on(server: ServerProcess, name: str, device: str, *, register: bool) -> SyncClient:
    client = SyncClient(server.base_url, name, PASSWORD, device)
    if register:
        await client.register()
    await client.login()
    return client


async def test_message_sent_through_one_process_reaches_a_device_on_another(cluster: list[ServerProcess]) -> None:
    a, b = cluster[0], cluster[1]
    suffix = uuid.uuid4().hex[:6]
    ann = await client_on(a, f"ann{suffix}", "phone", register=True)
    bob = await client_on(b, f"bob{suffix}", "phone", register=True)
    try:
        channel = await bob.open_direct(ann.user_id or "")
        await ann.connect()  # live on process A
        for i in range(30):
            await bob.send_text(channel, f"via-b-{i}")  # sent through process B
        await ann.wait_for(channel, 30)
        assert ann.texts(channel) == [f"via-b-{i}" for i in range(30)]
        assert ann.live_applied == 30  # every one arrived live across processes, in order
    finally:
        await ann.close()
        await bob.close()


async def test_concurrent_senders_on_three_processes_get_gapless_pts(cluster: list[ServerProcess]) -> None:
    await concurrent_senders_get_gapless_pts(cluster)


@pytest.fixture(scope="module")
def workers_cluster(server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory) -> list[ServerProcess]:
    """Two processes of `serve --workers 2`: four workers in all."""
    database = asyncio.run(db_factory.new())
    prefix = "mw" + uuid.uuid4().hex[:8]
    args = ["serve", "--workers", "2"]
    return [server_factory(database=database, key_prefix=prefix, extra_args=args) for _ in range(2)]


async def test_concurrent_senders_on_two_processes_of_two_workers_get_gapless_pts(
    workers_cluster: list[ServerProcess],
) -> None:
    # A fresh connection per request: the kernel spreads them over both workers of a process.
    await concurrent_senders_get_gapless_pts(workers_cluster, fresh_connections=True)


async def concurrent_senders_get_gapless_pts(cluster: list[ServerProcess], *, fresh_connections: bool = False) -> None:
    suffix = uuid.uuid4().hex[:6]
    hub_user = await client_on(cluster[0], f"hub{suffix}", "d0", register=True)
    senders = [await client_on(cluster[i % len(cluster)], f"s{i}{suffix}", f"d{i}", register=True) for i in range(8)]
    if fresh_connections:
        for sender in senders:
            await sender.http.aclose()
            sender.http = httpx.AsyncClient(
                base_url=sender.base_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
            )
    try:
        # four channels: each sender talks to the hub user in its own direct channel, and
        # pairs of senders share a channel too, so channels have several writers.
        channels = [await s.open_direct(hub_user.user_id or "") for s in senders[:4]]
        writers: dict[str, list[SyncClient]] = {c: [senders[i], senders[i + 4]] for i, c in enumerate(channels)}
        # senders[i+4] needs membership: use the pair channel between senders[i] and senders[i+4] instead
        pair_channels = [await senders[i].open_direct(senders[i + 4].user_id or "") for i in range(4)]
        writers = {c: [senders[i], senders[i + 4]] for i, c in enumerate(pair_channels)}
        writers.update({c: [senders[i]] for i, c in enumerate(channels)})
        per_writer = 20
        rng = random.Random(7)

        async def write(client: SyncClient, channel: str) -> list[int]:
            pts = []
            for n in range(per_writer):
                # each call may go to a different process
                client.http.base_url = rng.choice(cluster).base_url
                pts.append((await client.send_text(channel, f"{client.device_id}-{n}"))["pts"])
            return pts

        results = await asyncio.gather(*(write(w, c) for c, ws in writers.items() for w in ws))
        assert sum(len(r) for r in results) == per_writer * sum(len(ws) for ws in writers.values())
        for channel, ws in writers.items():
            reader = ws[0]
            reader.channel_pts.clear()
            reader.messages.clear()
            await reader.sync()
            expected = per_writer * len(ws)
            assert reader.channel_pts[channel] == expected  # _apply_channel_event asserts each pts is last+1
            texts = reader.texts(channel)
            assert len(texts) == len(set(texts)) == expected
            for w in ws:  # each writer's own messages keep their order
                mine = [t for t in texts if t.startswith(f"{w.device_id}-")]
                assert mine == [f"{w.device_id}-{n}" for n in range(per_writer)]
    finally:
        for c in (hub_user, *senders):
            await c.close()


async def test_kick_through_one_process_ends_the_stream_on_another(cluster: list[ServerProcess]) -> None:
    import json

    import websockets

    suffix = uuid.uuid4().hex[:6]
    phone = await client_on(cluster[0], f"kim{suffix}", "phone", register=True)
    laptop = await client_on(cluster[2], f"kim{suffix}", "laptop", register=False)
    try:
        ws = await websockets.connect(cluster[2].ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {laptop.token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription { events { __typename ... on SessionRevokedEvent { reason deviceIds } } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        await asyncio.sleep(0.3)
        await phone.gql('mutation { deviceKick(input: {deviceId: "laptop"}) { kicked } }')
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["payload"]["data"]["events"] == {
            "__typename": "SessionRevokedEvent",
            "reason": "kicked",
            "deviceIds": ["laptop"],
        }
        # an error during the stream arrives as a result with `errors` (graphql-transport-ws)
        ended = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ended["type"] == "next" and ended["payload"]["errors"][0]["extensions"]["code"] == "SESSION_REVOKED"
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "complete"
        await ws.close()
    finally:
        await phone.close()
        await laptop.close()
