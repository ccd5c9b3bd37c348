"""1:1 send-to-push latency through the native gateway (TCP) at a steady rate, and the same
through GraphQL over WebSocket (graphql-transport-ws: the mutation and the `events`
subscription on persistent sockets), against one real server process. Not a test.

    .venv/bin/python -m bench.gateway_latency                       # PostgreSQL + Redis
    .venv/bin/python -m bench.gateway_latency --backend sqlite --rate 200

Each message carries its send time; latency = push received - send started (one clock,
one process). "ack" is send started -> RPC_RESULT (the commit included).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
import uuid
from typing import Any

import websockets

from bench.common import Accounts, add_backend_argument, bounded, percentile, rss_mib, running_server
from gateway_native.client import Endpoint, NativeConnection
from tests.support.server import ServerProcess

SEND = (
    "mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, "
    "content: {text: {text: $t}}}) { message { pts } } }"
)
EVENTS = (
    "subscription { events { __typename ... on MessageEvent { message { content { ... on TextContent { text } } } } } }"
)


class Recorder:
    def __init__(self, expected: int) -> None:
        self.push: list[float] = []
        self.ack: list[float] = []
        self.expected = expected
        self.done = asyncio.Event()

    def pushed(self, text: str) -> None:
        sent = int(text)
        if sent > 0:  # warm-up messages carry 0
            self.push.append((time.perf_counter_ns() - sent) / 1e6)
            if len(self.push) >= self.expected:
                self.done.set()

    def report(self, label: str, rate: float) -> None:
        push, ack = self.push, self.ack
        p50, p99 = percentile(push, 0.5), percentile(push, 0.99)
        ack50, ack99 = percentile(ack, 0.5), percentile(ack, 0.99)
        print(
            f"{label:<24} at {rate:.0f} msg/s: push p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
            f"  mean {statistics.mean(push):6.2f} ms | ack p50 {ack50:6.2f} ms  p99 {ack99:6.2f} ms  (n={len(push)})"
        )


async def paced(count: int, rate: float, send: Any) -> None:
    interval = 1.0 / rate
    start = time.perf_counter()
    tasks = []
    for n in range(count):
        delay = start + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n)))
    await asyncio.gather(*tasks)


async def native(server: ServerProcess, pairs: list[tuple[str, str, str]], rate: float, count: int) -> Recorder:
    where = Endpoint("tcp", "127.0.0.1", server.tcp_port)
    recorder = Recorder(count)
    senders, receivers, readers = [], [], []

    async def read(conn: NativeConnection) -> None:
        while True:
            event = await conn.pushes.get()
            if event.get("__typename") == "MessageEvent":
                recorder.pushed(event["message"]["content"]["text"])

    for sender_token, receiver_token, _ in pairs:
        sender = await NativeConnection.open(where, ping_interval=None)
        await sender.connect(sender_token, device_id="bench")
        receiver = await NativeConnection.open(where, ping_interval=None)
        await receiver.connect(receiver_token, device_id="bench")
        await receiver.call("sync/session_ready")
        senders.append(sender)
        receivers.append(receiver)
        readers.append(asyncio.create_task(read(receiver)))

    async def send(n: int, stamp: bool = True) -> None:
        index = n % len(pairs)
        started = time.perf_counter_ns()
        args = {
            "channelId": pairs[index][2],
            "clientMsgId": uuid.uuid4().hex,
            "content": {"text": {"text": str(started if stamp else 0)}},
        }
        await senders[index].call("message/send", args)
        if stamp:
            recorder.ack.append((time.perf_counter_ns() - started) / 1e6)

    for n in range(len(pairs) * 3):  # warm-up
        await send(n, stamp=False)
    await asyncio.sleep(0.5)
    await paced(count, rate, send)
    await asyncio.wait_for(recorder.done.wait(), 60)
    for task in readers:
        task.cancel()
    for conn in senders + receivers:
        await conn.close()
    return recorder


class GraphQLSocket:
    """One graphql-transport-ws connection: operations by id, results to their waiters."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiters: dict[str, asyncio.Future[Any]] = {}
        self.on_event: Any = None
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str) -> GraphQLSocket:
        ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None)  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        return cls(ws)

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame.get("type") == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
            elif frame.get("type") == "next":
                waiter = self.waiters.pop(frame["id"], None)
                if waiter is not None:
                    waiter.set_result(frame["payload"])
                elif self.on_event is not None:
                    self.on_event(frame["payload"])

    async def mutate(self, query: str, variables: dict[str, Any]) -> Any:
        op_id = str(next(self.ids))
        waiter = asyncio.get_running_loop().create_future()
        self.waiters[op_id] = waiter
        await self.ws.send(
            json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})
        )
        return await waiter

    async def subscribe(self, query: str) -> None:
        await self.ws.send(json.dumps({"id": "events", "type": "subscribe", "payload": {"query": query}}))

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()


async def graphql(server: ServerProcess, pairs: list[tuple[str, str, str]], rate: float, count: int) -> Recorder:
    recorder = Recorder(count)
    senders, receivers = [], []
    for sender_token, receiver_token, _ in pairs:
        senders.append(await GraphQLSocket.open(server.ws_url, sender_token))
        receiver = await GraphQLSocket.open(server.ws_url, receiver_token)
        receiver.on_event = lambda payload: recorder.pushed(payload["data"]["events"]["message"]["content"]["text"])
        await receiver.subscribe(EVENTS)
        receivers.append(receiver)
    await asyncio.sleep(0.5)  # subscriptions registered

    async def send(n: int, stamp: bool = True) -> None:
        index = n % len(pairs)
        started = time.perf_counter_ns()
        variables = {"c": pairs[index][2], "id": uuid.uuid4().hex, "t": str(started if stamp else 0)}
        result = await senders[index].mutate(SEND, variables)
        assert not result.get("errors"), result
        if stamp:
            recorder.ack.append((time.perf_counter_ns() - started) / 1e6)

    for n in range(len(pairs) * 3):
        await send(n, stamp=False)
    await asyncio.sleep(0.5)
    await paced(count, rate, send)
    await asyncio.wait_for(recorder.done.wait(), 60)
    for sock in senders + receivers:
        await sock.close()
    return recorder


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backend_argument(parser)
    parser.add_argument("--rate", type=float, default=500.0, help="total messages per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of paced sending per door")
    parser.add_argument("--pairs", type=int, default=20, help="sender/receiver pairs (one direct channel each)")
    args = parser.parse_args()
    count = int(args.rate * args.duration)
    async with running_server(args.backend) as server:
        accounts = Accounts(server)

        async def pair() -> tuple[str, str, str]:
            _, _, sender = await accounts.user("s")
            _, receiver_id, receiver = await accounts.user("r")
            return sender, receiver, await accounts.direct(sender, receiver_id)

        pairs = await bounded(8, [pair() for _ in range(args.pairs)])
        await accounts.close()
        print(f"backend: {args.backend}; {args.pairs} pairs; {count} messages per door")
        (await native(server, pairs, args.rate, count)).report("native gateway (TCP)", args.rate)
        (await graphql(server, pairs, args.rate, count)).report("GraphQL over WebSocket", args.rate)
        assert server.proc is not None
        print(f"server RSS: {rss_mib(server.proc.pid):.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
