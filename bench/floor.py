"""The latency floor of one send on this box, step by step (not a test; prints figures).

    .venv/bin/python -m bench.floor            # PostgreSQL + Redis on 127.0.0.1

Sequential calls with a short pause between them (an idle server, as at low load), p50/p90:

1. a loopback echo through asyncio (what the transport alone costs);
2. PostgreSQL: `SELECT 1` (one round trip) and a one-row INSERT committed (the fsync of a
   commit: an acknowledged message must be durable, so `synchronous_commit` stays on);
3. the two statements of a send on the driver: the session check and the send function,
   one row each, as the server sends them when nothing else is in flight;
4. a real server: a native `message/send` answered, and its PUSH at the receiver; a
   GraphQL `messageSend` over HTTP/1.1 keep-alive answered, and its `next` at a receiver's
   graphql-transport-ws subscription.

What a send cannot go below is (2)'s commit plus (3); (4) minus (3) is the server's own part.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import websockets

from bench.common import Accounts, percentile, running_server
from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess

CALLS = 200
PAUSE_S = 0.005


async def timed(label: str, call: Callable[[], Awaitable[Any]], rows: list[tuple[str, float, float]]) -> None:
    for _ in range(10):
        await call()
    latencies = []
    for _ in range(CALLS):
        start = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(PAUSE_S)
    rows.append((label, percentile(latencies, 0.5), percentile(latencies, 0.9)))


async def echo(rows: list[tuple[str, float, float]]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def once() -> None:
        writer.write(b"x")
        await reader.read(100)

    await timed("loopback echo (asyncio)", once, rows)
    writer.close()
    server.close()


async def database(rows: list[tuple[str, float, float]]) -> None:
    from app.channels import log_store
    from app.devices.store import CHECK_SESSIONS_SQL
    from tests.conftest import make_settings
    from tests.support import factories

    backends.BACKEND, backends.IS_POSTGRES = "postgres", True
    from app import runtime

    factory = DatabaseFactory(Path(tempfile.mkdtemp(prefix="privchat-floor-")))
    test_db = await factory.new()
    services = runtime.build_services(make_settings(Path(tempfile.mkdtemp()), test_db.url))
    await runtime.start(services)
    conn = await asyncpg.connect(test_db.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for name in ("json", "jsonb"):
            await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        await conn.execute("CREATE TABLE floor_probe (id bigserial PRIMARY KEY, v int)")
        await timed("PostgreSQL: SELECT 1", lambda: conn.fetchval("SELECT 1"), rows)
        await timed("PostgreSQL: INSERT, committed", lambda: conn.execute("INSERT INTO floor_probe (v) VALUES (1)"), rows)
        ann = await factories.account(services)
        bob = await factories.account(services)
        channel = await factories.direct_channel(services, ann, bob)
        session = ann.principal.session_id
        await timed("send: the session check", lambda: conn.fetch(CHECK_SESSIONS_SQL, [session], 1, 0), rows)
        rules = (["admin", "owner"], ["admin", "owner"], True)

        def send() -> Awaitable[Any]:
            at = int(time.time() * 1000)
            return conn.fetch(
                log_store.SEND_MESSAGES_SQL, [channel], [ann.user_id], [uuid.uuid4().hex], ["text"],
                [{"text": "x"}], [None], [None], [None], [False], [at], *rules,
            )  # fmt: skip

        await timed("send: the send statement (one row)", send, rows)
    finally:
        await conn.close()
        await runtime.stop(services)
        await factory.drop_all()


async def server(rows: list[tuple[str, float, float]]) -> None:
    from gateway_native.client import Endpoint, NativeConnection

    async with running_server("postgres") as srv:
        accounts = Accounts(srv)
        _, _, sender_token = await accounts.user("s")
        _, receiver_id, receiver_token = await accounts.user("r")
        channel = await accounts.direct(sender_token, receiver_id)
        await accounts.close()
        endpoint = Endpoint("tcp", "127.0.0.1", srv.tcp_port)
        receiver = await NativeConnection.open(endpoint, ping_interval=None)
        await receiver.connect(receiver_token, device_id="bench")
        await receiver.call("sync/session_ready")
        sender = await NativeConnection.open(endpoint, ping_interval=None)
        await sender.connect(sender_token, device_id="bench")
        answered: list[float] = []
        pushed: list[float] = []

        async def send() -> None:
            start = time.perf_counter()
            content = {"text": {"text": "x"}}
            await sender.call("message/send", {"channelId": channel, "clientMsgId": uuid.uuid4().hex, "content": content})
            answered.append((time.perf_counter() - start) * 1000)
            while not ((await receiver.pushes.get()).get("message") or {}).get("content"):
                pass
            pushed.append((time.perf_counter() - start) * 1000)

        await timed("server: native send, answered + pushed", send, rows)
        del answered[:10], pushed[:10]
        rows.append(("  - of which the answer", percentile(answered, 0.5), percentile(answered, 0.9)))
        rows.append(("  - of which the PUSH at the receiver", percentile(pushed, 0.5), percentile(pushed, 0.9)))
        await sender.close()
        await receiver.close()
        await graphql_send(srv, sender_token, receiver_token, channel, rows)


async def graphql_send(
    srv: ServerProcess, sender_token: str, receiver_token: str, channel: str, rows: list[tuple[str, float, float]]
) -> None:
    from bench.core import SEND, SUB, HttpConnection

    http = await HttpConnection.open(srv.ws_port, sender_token)
    async with websockets.connect(srv.ws_url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
        auth = {"authorization": f"Bearer {receiver_token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
        answered: list[float] = []
        received: list[float] = []

        async def send() -> None:
            start = time.perf_counter()
            text = uuid.uuid4().hex
            await http.post({"query": SEND, "variables": {"c": channel, "id": uuid.uuid4().hex, "t": text}})
            answered.append((time.perf_counter() - start) * 1000)
            while True:
                item = json.loads(await ws.recv())
                event = (item.get("payload") or {}).get("data", {}).get("events") or {}
                if ((event.get("message") or {}).get("content") or {}).get("text") == text:
                    break
            received.append((time.perf_counter() - start) * 1000)

        await timed("server: GraphQL send, answered + received", send, rows)
        del answered[:10], received[:10]
        rows.append(("  - of which the answer", percentile(answered, 0.5), percentile(answered, 0.9)))
        rows.append(("  - of which `next` at the receiver", percentile(received, 0.5), percentile(received, 0.9)))
    http.close()


async def main() -> None:
    rows: list[tuple[str, float, float]] = []
    await echo(rows)
    await database(rows)
    await server(rows)
    print(f"\n{'step (sequential, idle)':<44} {'p50 ms':>8} {'p90 ms':>8}")
    print("-" * 62)
    for label, p50, p90 in rows:
        print(f"{label:<44} {p50:>8.2f} {p90:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
