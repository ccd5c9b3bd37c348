"""The whole hot-path comparison in one command, one table. Not a test.

    .venv/bin/python -m bench.core                      # PostgreSQL + Redis, 1 and 2 workers
    .venv/bin/python -m bench.core --workers 1 --seconds 5

In the same run:
  1. the raw database loop (bench/raw_loop.py): asyncpg on uvloop, 50 tasks on a pool of
     20, BEGIN; UPDATE pts; INSERT message; INSERT event; COMMIT: transactions/s and its
     own CPU per transaction;
  2. for each worker count, a real server (PostgreSQL + Redis) and both doors:
     - GraphQL: `--senders` senders, each in its own direct chat, sending back to back over
       HTTP/1.1 keep-alive (a minimal client, so that the bench spends little CPU), the
       receivers on graphql-transport-ws subscriptions;
     - native: the same over TCP RPC, receivers on PUSH frames;
     persisted messages/s (every counted send has its answer, i.e. is committed), server
     CPU per message (all worker processes) and PostgreSQL CPU per message;
  3. send-to-receive latency (p50/p99) at a steady `--rate` msg/s on each door.

Everything shares this machine's cores (server, PostgreSQL, Redis and the bench), as in
the issue. Targets are ratios to the raw loop of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from bench.common import (
    Accounts,
    bounded,
    percentile,
    postgres_cpu_seconds,
    process_tree_cpu_seconds,
    running_server,
    start_py_spy,
    stop_py_spy,
)
from gateway_native.client import Endpoint, NativeConnection
from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess

SEND = (
    "mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, "
    "content: {text: {text: $t}}}) { message { pts } } }"
)
SUB = "subscription { events { __typename ... on MessageEvent { pts message { content { ... on TextContent { text } } } } } }"


# --- a minimal HTTP/1.1 keep-alive client -------------------------------------------------


class HttpConnection:
    """One keep-alive connection posting GraphQL documents: a few microseconds of client
    CPU per request, so that the server, not the bench, is what is measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, token: str) -> None:
        self.reader, self.writer = reader, writer
        self.turn = asyncio.Lock()  # HTTP/1.1 without pipelining: one request at a time
        self.head = (
            f"POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"accept: application/json\r\nauthorization: Bearer {token}\r\n"
        ).encode()

    @classmethod
    async def open(cls, port: int, token: str) -> HttpConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, f"127.0.0.1:{port}", token)

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body).encode()
        async with self.turn:
            self.writer.write(self.head + b"content-length: %d\r\n\r\n" % len(payload) + payload)
            headers = await self.reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            answer = json.loads(await self.reader.readexactly(length))
        if answer.get("errors"):
            raise RuntimeError(answer["errors"])
        return answer["data"]

    def close(self) -> None:
        self.writer.close()


# --- one server, both doors ---------------------------------------------------------------


@dataclass
class Pair:
    sender: str  # access tokens
    receiver: str
    channel: str


@dataclass
class Row:
    label: str
    msgs_per_s: float = 0.0
    server_cpu_ms: float = 0.0
    pg_cpu_ms: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    delivered: int = 0
    sent: int = 0
    notes: list[str] = field(default_factory=list)


class Receivers:
    """Counts deliveries; for latency runs, records the arrival time of each text."""

    def __init__(self) -> None:
        self.count = 0
        self.arrivals: dict[str, float] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.expected = 0
        self.all_arrived = asyncio.Event()

    def got(self, text: str | None) -> None:
        self.count += 1
        if text and text.startswith("L"):
            self.arrivals[text] = time.perf_counter()
            if len(self.arrivals) >= self.expected:
                self.all_arrived.set()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def graphql_receivers(server: ServerProcess, pairs: list[Pair]) -> Receivers:
    receivers = Receivers()

    async def listen(token: str, ready: asyncio.Event) -> None:
        async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
            ready.set()
            async for raw in ws:
                item = json.loads(raw)
                if item.get("type") == "next":
                    event = item["payload"]["data"]["events"]
                    if event.get("__typename") == "MessageEvent":
                        receivers.got(event["message"]["content"].get("text"))

    for pair in pairs:
        ready = asyncio.Event()
        receivers.tasks.append(asyncio.create_task(listen(pair.receiver, ready)))
        await asyncio.wait_for(ready.wait(), 30)
    return receivers


async def native_receivers(endpoint: Endpoint, pairs: list[Pair]) -> tuple[Receivers, list[NativeConnection]]:
    receivers = Receivers()
    conns = []

    async def drain(conn: NativeConnection) -> None:
        while True:
            event = await conn.pushes.get()
            message = event.get("message") or {}
            content = message.get("content") or {}
            receivers.got(content.get("text") if isinstance(content, dict) else None)

    for pair in pairs:
        conn = await NativeConnection.open(endpoint, ping_interval=None)
        await conn.connect(pair.receiver, device_id="bench")
        await conn.call("sync/session_ready")
        conns.append(conn)
        receivers.tasks.append(asyncio.create_task(drain(conn)))
    return receivers, conns


PROFILE_FORMAT = "flamegraph"  # or "raw": collapsed stacks (text), for reading the top frames


def start_profile(server: ServerProcess, out: Path | None, label: str) -> subprocess.Popen[bytes] | None:
    """py-spy on the server (and its workers) for the measured window."""
    if out is None:
        return None
    stem = label.replace(", ", "-").replace(" ", "_")
    suffix = ".svg" if PROFILE_FORMAT == "flamegraph" else ".txt"
    return start_py_spy(server, out / (stem + suffix), fmt=PROFILE_FORMAT)


async def measure_throughput(
    server: ServerProcess,
    label: str,
    send_one: list[Any],
    seconds: float,
    receivers: Receivers,
    profile: Path | None = None,
) -> Row:
    """Run every sender back to back for `seconds` after a warm-up; count answered sends."""
    sent = 0
    stop_at = 0.0

    async def run(send: Any) -> None:
        nonlocal sent
        while time.perf_counter() < stop_at:
            await send(uuid.uuid4().hex)
            sent += 1

    stop_at = time.perf_counter() + min(2.0, seconds / 2)
    await asyncio.gather(*(run(s) for s in send_one))
    await asyncio.sleep(0.5)
    sent, receivers.count = 0, 0
    assert server.proc is not None
    profiler = start_profile(server, profile, label)
    cpu0, pg0, t0 = process_tree_cpu_seconds(server.proc.pid), postgres_cpu_seconds(), time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(run(s) for s in send_one))
    elapsed = time.perf_counter() - t0
    cpu, pg = process_tree_cpu_seconds(server.proc.pid) - cpu0, postgres_cpu_seconds() - pg0
    stop_py_spy(profiler)
    await asyncio.sleep(1.0)  # let the last deliveries arrive
    return Row(
        label=label,
        msgs_per_s=sent / elapsed,
        server_cpu_ms=1000 * cpu / max(sent, 1),
        pg_cpu_ms=1000 * pg / max(sent, 1),
        sent=sent,
        delivered=receivers.count,
    )


async def measure_latency(row: Row, send_one: list[Any], receivers: Receivers, rate: float, seconds: float) -> None:
    """Send at a steady total rate, round-robin over the senders; send-to-receive times."""
    interval = 1.0 / rate
    # The bench's own collector pauses are not the server's latency: what setup built is
    # frozen out of them (as the server does with what its startup built, app/heap.py).
    gc.collect()
    gc.freeze()
    started: dict[str, float] = {}
    receivers.expected, receivers.arrivals = int(rate * seconds), {}
    receivers.all_arrived.clear()
    tasks = []
    begin = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = begin + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        text = f"L{uuid.uuid4().hex}"
        started[text] = time.perf_counter()
        tasks.append(asyncio.create_task(send_one[i % len(send_one)](uuid.uuid4().hex, text)))
    await asyncio.gather(*tasks)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receivers.all_arrived.wait(), 5)
    latencies = [1000 * (receivers.arrivals[t] - s) for t, s in started.items() if t in receivers.arrivals]
    missing = len(started) - len(latencies)
    if latencies:
        row.p50_ms, row.p99_ms = percentile(latencies, 0.5), percentile(latencies, 0.99)
    if missing:
        row.notes.append(f"{missing} of {len(started)} latency messages not received")


async def run_server(workers: int, args: argparse.Namespace) -> list[Row]:
    extra = ["--workers", str(workers)] if workers > 1 else []
    async with running_server("postgres", extra_args=extra) as server:
        accounts = Accounts(server)

        async def pair() -> Pair:
            _, _, sender = await accounts.user("s")
            _, receiver_id, receiver = await accounts.user("r")
            return Pair(sender, receiver, await accounts.direct(sender, receiver_id))

        pairs = await bounded(8, [pair() for _ in range(args.senders)])
        await accounts.close()
        rows = []

        # GraphQL: HTTP sends, WebSocket receives.
        receivers = await graphql_receivers(server, pairs)
        http = [await HttpConnection.open(server.ws_port, p.sender) for p in pairs]

        def gql_sender(conn: HttpConnection, channel: str) -> Any:
            async def send(client_id: str, text: str = "t") -> None:
                await conn.post({"query": SEND, "variables": {"c": channel, "id": client_id, "t": text}})

            return send

        gql_send = [gql_sender(c, p.channel) for c, p in zip(http, pairs, strict=True)]
        row = await measure_throughput(
            server, f"graphql, {workers} worker(s)", gql_send, args.seconds, receivers, args.profile
        )
        await measure_latency(row, gql_send, receivers, args.rate, args.latency_seconds)
        rows.append(row)
        for conn in http:
            conn.close()
        await receivers.close()

        # Native: TCP RPC sends, PUSH receives.
        endpoint = Endpoint("tcp", "127.0.0.1", server.tcp_port)
        receivers, receiver_conns = await native_receivers(endpoint, pairs)
        senders = []
        for p in pairs:
            conn = await NativeConnection.open(endpoint, ping_interval=None)
            await conn.connect(p.sender, device_id="bench")
            senders.append(conn)

        def native_sender(conn: NativeConnection, channel: str) -> Any:
            async def send(client_id: str, text: str = "t") -> None:
                await conn.call(
                    "message/send", {"channelId": channel, "clientMsgId": client_id, "content": {"text": {"text": text}}}
                )

            return send

        native_send = [native_sender(c, p.channel) for c, p in zip(senders, pairs, strict=True)]
        row = await measure_throughput(
            server, f"native, {workers} worker(s)", native_send, args.seconds, receivers, args.profile
        )
        await measure_latency(row, native_send, receivers, args.rate, args.latency_seconds)
        rows.append(row)
        await receivers.close()
        for conn in senders + receiver_conns:
            await conn.close()
        return rows


async def raw_loop(args: argparse.Namespace) -> dict[str, float]:
    factory = DatabaseFactory(Path(tempfile.mkdtemp(prefix="privchat-raw-")))
    database = await factory.new()
    try:
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bench.raw_loop", "--dsn", database.url, "--seconds", str(args.seconds)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        await factory.drop_all()


def print_table(raw: dict[str, float], rows: list[Row]) -> None:
    loop_tps, loop_cpu = raw["tx_per_s"], raw["client_cpu_ms_per_tx"]
    print()
    print(
        f"raw database loop: {loop_tps:,.0f} tx/s, client CPU {loop_cpu:.3f} ms/tx, "
        f"PostgreSQL CPU {raw['pg_cpu_ms_per_tx']:.3f} ms/tx"
    )
    print()
    header = (
        f"{'door, workers':<22} {'msg/s':>8} {'x loop':>7} {'srv CPU ms':>11} {'x loop CPU':>10} "
        f"{'PG CPU ms':>10} {'p50 ms':>7} {'p99 ms':>7} {'delivered':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.label:<22} {r.msgs_per_s:>8,.0f} {r.msgs_per_s / loop_tps:>7.2f} {r.server_cpu_ms:>11.3f} "
            f"{r.server_cpu_ms / loop_cpu:>10.2f} {r.pg_cpu_ms:>10.3f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            f"{r.delivered:>5}/{r.sent:<5}"
        )
        for note in r.notes:
            print(f"    note: {note}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per throughput run")
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--rate", type=float, default=200.0, help="msg/s of the latency runs")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--profile", type=Path, help="write py-spy flame graphs of each throughput run here")
    parser.add_argument("--profile-format", choices=["flamegraph", "raw"], default="flamegraph",
                        help="raw: collapsed stacks as text (for bench/top_frames.py)")
    args = parser.parse_args()
    global PROFILE_FORMAT
    PROFILE_FORMAT = args.profile_format
    os.environ["PRIVCHAT_TEST_BACKEND"] = "postgres"
    backends.BACKEND, backends.IS_POSTGRES = "postgres", True
    raw = await raw_loop(args)
    rows = []
    for workers in (int(w) for w in args.workers.split(",")):
        rows += await run_server(workers, args)
    print_table(raw, rows)


if __name__ == "__main__":
    # The bench's clients on uvloop too (as the raw loop and the server): the less the
    # clients cost, the more of the measured latency is the server's.
    import uvloop

    uvloop.run(main())
