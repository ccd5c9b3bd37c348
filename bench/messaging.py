"""Messaging benchmark: starts a real server and prints figures (not a test).

    .venv/bin/python -m bench.messaging                       # SQLite + in-memory bus
    .venv/bin/python -m bench.messaging --backend postgres    # PostgreSQL + Redis

Measures, over GraphQL (HTTP for sends, graphql-transport-ws for receives):
  1. 1:1 send-to-receive latency p50/p99 at a steady total rate (--rate msg/s);
  2. sustained persisted messages/s with --senders concurrent senders;
  3. fan-out time to all members of a --members-member group channel (every member
     connected over WebSocket): time from send until the last member has the message;
  4. server RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import httpx
import websockets

from bench.common import PASSWORD, percentile, rss_mib, running_server
from tests.support.server import ServerProcess

SEND = (
    "mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, "
    "content: {text: {text: $t}}}) { message { pts } } }"
)
SUB = "subscription { events { __typename ... on MessageEvent { pts message { content { ... on TextContent { text } } } } } }"


class Bench:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=60,
                                      limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))

    async def gql(self, query: str, variables: dict, token: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = (await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    async def user(self, name: str) -> tuple[str, str]:
        await self.gql("mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }",
                       {"u": name, "p": PASSWORD})
        data = await self.gql(
            'mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: "bench", platform: "linux"}) { accessToken user { id } } }',
            {"u": name, "p": PASSWORD},
        )
        login = data["accountAuthLogin"]
        return login["user"]["id"], login["accessToken"]

    async def pair(self, tag: str) -> tuple[str, str, str]:
        """(sender token, receiver token, channel id)"""
        _, sender = await self.user(f"s{tag}")
        receiver_id, receiver = await self.user(f"r{tag}")
        data = await self.gql("mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id } } }",
                              {"u": receiver_id}, sender)
        return sender, receiver, data["channelDirectGetOrCreate"]["channel"]["id"]

    async def send(self, token: str, channel: str, text: str) -> None:
        await self.gql(SEND, {"c": channel, "id": uuid.uuid4().hex, "t": text}, token)

    async def latency(self, pairs: int, rate: float, duration: float) -> list[float]:
        setup = [await self.pair(f"l{i}{uuid.uuid4().hex[:5]}") for i in range(pairs)]
        latencies: list[float] = []
        expected = int(rate * duration)
        done = asyncio.Event()

        async def receive(token: str) -> None:
            async with websockets.connect(self.server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
                await ws.recv()
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
                ready.release()
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("type") != "next":
                        continue
                    text = frame["payload"]["data"]["events"]["message"]["content"]["text"]
                    latencies.append((time.perf_counter_ns() - int(text)) / 1e6)
                    if len(latencies) >= expected:
                        done.set()

        ready = asyncio.Semaphore(0)
        receivers = [asyncio.create_task(receive(r)) for _, r, _ in setup]
        for _ in setup:
            await ready.acquire()
        await asyncio.sleep(0.5)
        interval = 1.0 / rate
        start = time.perf_counter()
        sends = []
        for n in range(expected):
            sender, _, channel = setup[n % pairs]
            delay = start + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sends.append(asyncio.create_task(self.send(sender, channel, str(time.perf_counter_ns()))))
        await asyncio.gather(*sends)
        try:
            await asyncio.wait_for(done.wait(), 30)
        finally:
            for task in receivers:
                task.cancel()
        return latencies

    async def fanout(self, members: int, rounds: int) -> list[float]:
        """Per message: ms from send until every member's WebSocket has delivered it."""
        tag = uuid.uuid4().hex[:5]
        _, owner = await self.user(f"o{tag}")
        users = [await self.user(f"m{i}{tag}") for i in range(members - 1)]
        data = await self.gql(
            "mutation($n: String!, $m: [ID!]) { groupGroupCreate(input: {name: $n, memberIds: $m}) { group { id } } }",
            {"n": f"bench {tag}", "m": [u for u, _ in users]},
            owner,
        )
        group = data["groupGroupCreate"]["group"]["id"]
        arrivals: dict[str, list[int]] = {}
        ready = asyncio.Semaphore(0)

        async def receive(token: str) -> None:
            async with websockets.connect(self.server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
                await ws.recv()
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
                ready.release()
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("type") == "next" and frame["payload"]["data"]["events"].get("message"):
                        text = frame["payload"]["data"]["events"]["message"]["content"].get("text", "")
                        arrivals.setdefault(text, []).append(time.perf_counter_ns())

        tasks = [asyncio.create_task(receive(t)) for _, t in users]
        for _ in users:
            await ready.acquire()
        await asyncio.sleep(0.5)
        results = []
        for n in range(rounds):
            text = f"fan{n}"
            started = time.perf_counter_ns()
            await self.send(owner, group, text)
            deadline = time.monotonic() + 30
            while len(arrivals.get(text, [])) < len(users) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a shared dict
                await asyncio.sleep(0.002)
            if len(arrivals.get(text, [])) >= len(users):
                results.append((max(arrivals[text]) - started) / 1e6)
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        return results

    async def throughput(self, senders: int, per_sender: int) -> float:
        setup = [await self.pair(f"t{i}{uuid.uuid4().hex[:5]}") for i in range(senders)]

        async def run(sender: str, channel: str) -> None:
            for n in range(per_sender):
                await self.send(sender, channel, f"t{n}")

        start = time.perf_counter()
        await asyncio.gather(*(run(s, c) for s, _, c in setup))
        return senders * per_sender / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pairs", type=int, default=20, help="sender/receiver pairs for the latency run")
    parser.add_argument("--rate", type=float, default=200.0, help="total msg/s for the latency run")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--per-sender", type=int, default=40)
    parser.add_argument("--members", type=int, default=100, help="group size for the fan-out run")
    parser.add_argument("--fanout-rounds", type=int, default=20)
    args = parser.parse_args()
    async with running_server(args.backend) as server:
        bench = Bench(server)
        try:
            print(f"backend: {args.backend}{' + redis' if args.backend == 'postgres' else ' + memory bus'}")
            latencies = await bench.latency(args.pairs, args.rate, args.duration)
            print(f"1:1 send->receive latency at {args.rate:.0f} msg/s over {args.pairs} pairs: "
                  f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
                  f"mean {statistics.mean(latencies):.1f} ms (n={len(latencies)})")
            rate = await bench.throughput(args.senders, args.per_sender)
            print(f"persisted messages/s with {args.senders} concurrent senders: {rate:.0f}")
            assert server.proc is not None
            rss = rss_mib(server.proc.pid)
            fan = await bench.fanout(args.members, args.fanout_rounds)
            if fan:
                print(f"{args.members}-member group fan-out (send -> last member received): "
                      f"p50 {percentile(fan, 0.5):.1f} ms, p99 {percentile(fan, 0.99):.1f} ms (n={len(fan)})")
            else:
                print(f"{args.members}-member group fan-out: no message reached every member within 30 s")
            print(f"server RSS: {rss:.0f} MiB")
        finally:
            await bench.http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
