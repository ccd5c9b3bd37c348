"""500-member group fan-out: every member online, messages into the group at a steady rate,
over GraphQL WebSocket (graphql-transport-ws, one `events` subscription per member) and
over the native gateway (TCP, PUSH frames). Starts a real server; not a test.

    .venv/bin/python -m bench.fanout                                  # PostgreSQL + Redis, both doors
    .venv/bin/python -m bench.fanout --doors graphql --graphql-rate 10 --seconds 10
    .venv/bin/python -m bench.fanout --backend sqlite --members 50

Per door: messages sent (over the same door: HTTP messageSend / native message/send RPC,
rotating among a few members), deliveries received by all members, deliveries/s, the
time until the last member had a message (p50/p99, from send start: the commit included),
every delivery's latency, and the CPU of the server, of PostgreSQL and of this client.

The receivers work on bytes: a minimal WebSocket / native frame reader that finds each
message's marker (`~<n>~<send ns>~`, sent as the text) without decoding JSON or
MessagePack, so 500 receivers in this one process cost little next to the server they
share the two cores with. One clock: sender and receivers are this process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import re
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    Accounts,
    _cpu_of,
    _processes,
    add_backend_argument,
    bounded,
    percentile,
    process_tree_cpu_seconds,
    rss_mib,
    running_server,
    start_py_spy,
    stop_py_spy,
)
from gateway_native.client import Endpoint, NativeConnection
from gateway_native.codec import FrameType, encode
from tests.support.server import ServerProcess

SEND = (
    "mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, "
    "content: {text: {text: $t}}}) { message { pts } } }"
)
EVENTS = (
    "subscription { events { __typename ... on ChannelEvent { channelId pts } "
    "... on MessageEvent { message { id senderId content { ... on TextContent { text } } createdAt } } } }"
)
CREATE = """mutation($n: String!, $m: [ID!]!) { groupGroupCreate(input: {name: $n, memberIds: $m}) {
  group { id memberCount } refusedUserIds } }"""
MARKER = re.compile(rb"~(\d+)~(\d+)~")
SENDERS = 8


class Arrivals:
    """Every delivery's arrival, by message number."""

    def __init__(self) -> None:
        self.at: dict[int, list[int]] = {}  # message -> arrival ns
        self.sent: dict[int, int] = {}
        self.acked: dict[int, int] = {}  # message -> when its send was answered (committed)
        self.waiters: dict[int, tuple[int, asyncio.Event]] = {}

    def seen(self, chunk: bytes) -> None:
        now = time.perf_counter_ns()
        for match in MARKER.finditer(chunk):
            n = int(match[1])
            got = self.at.setdefault(n, [])
            got.append(now)
            waiter = self.waiters.get(n)
            if waiter is not None and len(got) >= waiter[0]:
                waiter[1].set()

    async def wait(self, n: int, count: int, timeout: float) -> bool:
        event = asyncio.Event()
        self.waiters[n] = (count, event)
        if len(self.at.get(n, ())) >= count:
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False


# --- byte-level receivers -------------------------------------------------------------------


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask; only a few small ones are sent)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


class WebSocketReceiver(asyncio.Protocol):
    """graphql-transport-ws over a raw socket: handshake, connection_init, subscribe; then
    each text frame is only scanned for markers. Answers pings; ignores the rest."""

    def __init__(self, token: str, arrivals: Arrivals, ready: asyncio.Future[None]) -> None:
        self.token = token
        self.arrivals = arrivals
        self.ready = ready
        self.buffer = bytearray()
        self.upgraded = False
        self.acked = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                "GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )

    def send_json(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.write(_masked(0x1, json.dumps(message).encode()))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(bytes(buf[:200]))
                return
            del buf[: end + 4]
            self.upgraded = True
            self.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}})
        while len(buf) >= 2:
            opcode, length, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, offset = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, offset = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < offset + length:
                return
            payload = bytes(buf[offset : offset + length])
            del buf[: offset + length]
            if opcode == 0x9:  # ping
                assert self.transport is not None
                self.transport.write(_masked(0xA, payload))
            elif opcode == 0x8:
                self._fail(b"closed by the server: " + payload)
            elif not self.acked:
                if b'"connection_ack"' in payload:
                    self.acked = True
                    self.send_json({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
                    if not self.ready.done():
                        self.ready.set_result(None)
            else:
                self.arrivals.seen(payload)

    def _fail(self, why: bytes) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(why.decode(errors="replace")))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(b"connection lost")


class NativeReceiver(asyncio.Protocol):
    """The native protocol over a raw socket: CONNECT, sync/session_ready; then each PUSH
    frame is only scanned for markers."""

    def __init__(self, token: str, arrivals: Arrivals, ready: asyncio.Future[None]) -> None:
        self.token = token
        self.arrivals = arrivals
        self.ready = ready
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(
            encode(
                FrameType.CONNECT,
                {"token": self.token, "deviceId": "bench", "platform": "linux", "protocolVersion": 1},
            )
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while len(buf) >= 5:
            length = int.from_bytes(buf[:4], "big")
            if len(buf) < 4 + length:
                return
            kind = buf[4]
            body = bytes(buf[5 : 4 + length])
            del buf[: 4 + length]
            if kind == FrameType.PUSH:
                self.arrivals.seen(body)
            elif kind == FrameType.CONNECT_ACK:
                assert self.transport is not None
                self.transport.write(encode(FrameType.RPC, {"id": 1, "route": "sync/session_ready", "args": {}}))
            elif kind == FrameType.RPC_RESULT and not self.ready.done():
                self.ready.set_result(None)
            elif kind == FrameType.DISCONNECT:
                self._fail(b"DISCONNECT " + body)

    def _fail(self, why: bytes) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(why.decode(errors="replace")))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(b"connection lost")


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process now (by pid: backends of others come and go)."""
    return {pid: _cpu_of(stat) for pid, _, name, stat in _processes() if name.startswith("postgres")}


def postgres_cpu_since(before: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())


# --- the run --------------------------------------------------------------------------------


@dataclass
class Result:
    door: str
    rate: float
    sent: int
    seconds: float
    expected: int
    received: int
    last_ms: list[float] = field(default_factory=list)
    every_ms: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    client_cpu: float = 0.0
    behind: int = 0
    per_second: float = 0.0  # deliveries from the first send to the last arrival
    server_cpu_seconds: float = 0.0
    ack_ms: list[float] = field(default_factory=list)


async def connect_all(
    make: Callable[[asyncio.Future[None]], asyncio.Protocol], port: int, count: int
) -> list[asyncio.Transport]:
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []

    async def one() -> None:
        ready: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.create_connection(lambda: make(ready), "127.0.0.1", port)
        transports.append(transport)
        await asyncio.wait_for(ready, 60)

    await bounded(50, [one() for _ in range(count)])
    return transports


def start_profile(server: ServerProcess, out: Path | None, door: str) -> subprocess.Popen[bytes] | None:
    """py-spy on the server for the measured window, as collapsed stacks (bench/top_frames.py reads them)."""
    return start_py_spy(server, out / f"fanout-{door}.txt", rate=100) if out is not None else None


async def run_door(
    door: str, server: ServerProcess, group: str, members: list[tuple[str, str]], rates: list[float], seconds: float,
    accounts: Accounts, profile: Path | None = None,
) -> list[Result]:
    """Connect every member over `door`, then measure each rate in turn on those connections."""
    arrivals = Arrivals()
    counter = itertools.count(1)
    expected = len(members)
    tokens = iter([token for _, token in members])
    receiver = WebSocketReceiver if door == "graphql" else NativeReceiver
    port = server.ws_port if door == "graphql" else server.tcp_port
    transports = await connect_all(lambda ready: receiver(next(tokens), arrivals, ready), port, expected)
    natives: list[NativeConnection] = []
    senders = itertools.cycle(range(min(SENDERS, expected)))

    async def send(n: int) -> None:
        i = next(senders)
        arrivals.sent[n] = sent = time.perf_counter_ns()
        text = f"~{n}~{sent}~"
        if door == "graphql":
            await accounts.gql(SEND, {"c": group, "id": uuid.uuid4().hex, "t": text}, members[i][1])
        else:
            content = {"text": {"text": text}}
            await natives[i].call("message/send", {"channelId": group, "clientMsgId": uuid.uuid4().hex, "content": content})
        arrivals.acked[n] = time.perf_counter_ns()

    try:
        if door == "native":
            for _, token in members[:SENDERS]:
                conn = await NativeConnection.open(Endpoint("tcp", "127.0.0.1", server.tcp_port), ping_interval=None)
                await conn.connect(token, device_id="bench")  # the device the token was issued to
                natives.append(conn)
        # Subscriptions register with the hub in their own tasks, after the socket said
        # ready: warm-up messages until one reaches every member.
        for _ in range(30):
            warm = next(counter)
            await send(warm)
            if await arrivals.wait(warm, expected, 2):
                break
        else:
            raise RuntimeError(f"{door}: warm-up reached {len(arrivals.at.get(warm, ()))}/{expected} members")
        results = []
        for rate in rates:
            profiler = start_profile(server, profile, f"{door}-{rate:g}")
            try:
                results.append(await measure(door, server, rate, seconds, expected, arrivals, counter, send))
            finally:
                stop_py_spy(profiler)
        return results
    finally:
        for transport in transports:
            transport.close()
        for conn in natives:
            await conn.close()


async def measure(
    door: str, server: ServerProcess, rate: float, seconds: float, expected: int, arrivals: Arrivals,
    counter: Iterator[int], send: Callable[[int], Awaitable[None]],
) -> Result:
    server_cpu0, pg_cpu0, client_cpu0 = (
        process_tree_cpu_seconds(server.proc.pid) if server.proc else 0.0, postgres_cpu(), time.process_time()
    )
    started = time.perf_counter()
    numbers: list[int] = []
    tasks: list[asyncio.Task[None]] = []
    for i in range(int(rate * seconds)):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        n = next(counter)
        numbers.append(n)
        tasks.append(asyncio.create_task(send(n)))
    await asyncio.gather(*tasks)
    sending_took = time.perf_counter() - started
    # Wait for the tail (bounded), then stop the clock.
    deadline = time.perf_counter() + 10
    for n in numbers:
        await arrivals.wait(n, expected, max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - started
    server_cpu = (process_tree_cpu_seconds(server.proc.pid) if server.proc else 0.0) - server_cpu0
    pg_cpu = postgres_cpu_since(pg_cpu0)
    client_cpu = time.process_time() - client_cpu0
    result = Result(door, rate, len(numbers), sending_took, len(numbers) * expected, 0)
    for n in numbers:
        got = arrivals.at.get(n, [])
        result.received += len(got)
        sent = arrivals.sent[n]
        result.ack_ms.append((arrivals.acked[n] - sent) / 1e6)
        result.every_ms += [(t - sent) / 1e6 for t in got]
        if len(got) >= expected:
            result.last_ms.append((max(got) - sent) / 1e6)
        else:
            result.behind += 1
    result.server_cpu_seconds = server_cpu
    result.server_cpu, result.postgres_cpu, result.client_cpu = server_cpu / elapsed, pg_cpu / elapsed, client_cpu / elapsed
    result.seconds = elapsed
    last_arrival = max((max(arrivals.at[n]) for n in numbers if arrivals.at.get(n)), default=0)
    if last_arrival:
        result.per_second = result.received / ((last_arrival - arrivals.sent[numbers[0]]) / 1e9)
    return result


def row(r: Result) -> str:
    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q):8.1f}" if values else "       -"

    last50, last99, every50, every99 = ms(r.last_ms, 0.5), ms(r.last_ms, 0.99), ms(r.every_ms, 0.5), ms(r.every_ms, 0.99)
    return (
        f"| {r.door:<8} | {r.rate:5.0f} | {r.sent:5d} | {r.received:8d}/{r.expected:<8d} | {r.per_second:9.0f} "
        f"| {last50} | {last99} | {every50} | {every99} | {r.behind:6d} | {100 * r.server_cpu:6.0f}% "
        f"| {100 * r.postgres_cpu:5.0f}% | {100 * r.client_cpu:6.0f}% "
        f"| {1000 * r.server_cpu_seconds / max(r.sent, 1):6.1f} | {1e6 * r.server_cpu_seconds / max(r.received, 1):6.0f} "
        f"| {ms(r.ack_ms, 0.5)} | {ms(r.ack_ms, 0.99)} |"
    )


HEADER_ROW = (
    "| door     | msg/s |  sent | deliveries        | deliv./s  | last p50 | last p99 | each p50 | each p99 "
    "| behind | server  | pg     | client  | ms/msg | us/dlv | ack p50  | ack p99  |\n"
    "|----------|-------|-------|-------------------|-----------|----------|----------|----------|----------"
    "|--------|---------|--------|---------|--------|--------|----------|----------|"
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backend_argument(parser)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--doors", default="graphql,native", help="comma-separated: graphql, native")
    parser.add_argument("--graphql-rate", default="10", help="messages per second over GraphQL (comma-separated: each)")
    parser.add_argument("--native-rate", default="20", help="messages per second over native (comma-separated: each)")
    parser.add_argument("--seconds", type=float, default=10.0, help="sending time per door")
    parser.add_argument("--profile", type=Path, help="write py-spy collapsed stacks of each door's window here")
    args = parser.parse_args()
    async with running_server(args.backend) as server:
        accounts = Accounts(server)
        try:
            print(f"backend: {args.backend}{' + redis' if args.backend == 'postgres' else ' + memory bus'}; "
                  f"{os.cpu_count()} CPUs, load average before: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
            setup = time.perf_counter()
            members = [(uid, token) for _, uid, token in await bounded(16, [accounts.user("f") for _ in range(args.members)])]
            created = await accounts.gql(CREATE, {"n": "Fanout", "m": [uid for uid, _ in members[1:]]}, members[0][1])
            group = created["groupGroupCreate"]["group"]
            assert group["memberCount"] == args.members, created
            print(f"setup: {args.members} users and their group in {time.perf_counter() - setup:.1f} s")
            results = []
            for door in args.doors.split(","):
                rates = [float(r) for r in (args.graphql_rate if door == "graphql" else args.native_rate).split(",")]
                results += await run_door(door, server, group["id"], members, rates, args.seconds, accounts, args.profile)
            print(f"\n{args.members} members online; {args.seconds:g} s of sending per row; last = send start -> the last member has it (ms); "
                  "each = every delivery (ms); behind = messages not at every member 10 s after the last send; "
                  "CPU as % of one core over the run; ms/msg, us/dlv = server CPU per message, per delivery (send path included); ack = send start -> answer (committed)")
            print(HEADER_ROW)
            for r in results:
                print(row(r))
            assert server.proc is not None
            print(f"server RSS after: {rss_mib(server.proc.pid):.0f} MiB; "
                  f"load average after: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            await accounts.close()


if __name__ == "__main__":
    asyncio.run(main())
