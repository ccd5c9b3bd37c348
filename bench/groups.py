"""Group benchmark: starts a real server and prints figures (not a test).

    .venv/bin/python -m bench.groups                       # SQLite + in-memory bus
    .venv/bin/python -m bench.groups --backend postgres    # PostgreSQL + Redis

Builds one group of --members users (default 500, the default member limit), connects
every member over GraphQL WebSocket (graphql-transport-ws, one `events` subscription
each), then measures:
  1. message fan-out: for --messages messages sent through messageSend at --rate msg/s,
     the send-to-receive latency of every delivery (p50/p99), and per message the time
     until the last member had it (p50/p99);
  2. groupMemberList page latency (p50/p99) for pages of 50 and 200, and a full walk;
  3. server RSS, and the load average (the machine may be shared: read figures with it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any

import httpx
import websockets

from bench.common import PASSWORD, percentile, rss_mib, running_server
from tests.support.server import ServerProcess

SEND = (
    "mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, "
    "content: {text: {text: $t}}}) { message { pts } } }"
)
SUB = """subscription { events { __typename
  ... on MessageEvent { pts message { content { ... on TextContent { text } } } } } }"""
CREATE = """mutation($n: String!, $m: [ID!]!) { groupGroupCreate(input: {name: $n, memberIds: $m}) {
  group { id memberCount } refusedUserIds } }"""
REGISTER = """mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) {
  user { id } } }"""
LOGIN = """mutation($u: String!, $p: String!) {
  accountAuthLogin(input: {username: $u, password: $p, deviceId: "bench", platform: "linux"}) {
    accessToken user { id } } }"""
MEMBERS = """query($g: ID!, $l: Int!, $c: String) { groupMemberList(input: {groupId: $g, limit: $l, cursor: $c}) {
  members { userId displayName role joinedAt invitedBy muted } nextCursor } }"""


class GroupBench:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.http = httpx.AsyncClient(
            base_url=server.base_url,
            timeout=120,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )

    async def gql(self, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = (await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    async def user(self, name: str) -> tuple[str, str]:
        await self.gql(REGISTER, {"u": name, "p": PASSWORD})
        data = await self.gql(LOGIN, {"u": name, "p": PASSWORD})
        login = data["accountAuthLogin"]
        return login["user"]["id"], login["accessToken"]

    async def users(self, count: int) -> list[tuple[str, str]]:
        tag = uuid.uuid4().hex[:6]
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> tuple[str, str]:
            async with gate:
                return await self.user(f"g{tag}u{i}")

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    async def fan_out(
        self, group: str, members: list[tuple[str, str]], messages: int, rate: float
    ) -> tuple[list[float], list[float], int]:
        """(every delivery's latency, per message the latency of its last delivery, missing)"""
        expected = len(members)
        arrivals: dict[str, list[float]] = {}
        complete: dict[str, asyncio.Event] = {}
        ready = asyncio.Semaphore(0)

        async def receive(token: str) -> None:
            async with websockets.connect(  # type: ignore[attr-defined]
                self.server.ws_url, subprotocols=["graphql-transport-ws"], max_queue=None
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
                await ws.recv()
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
                ready.release()
                async for raw in ws:
                    now = time.perf_counter_ns()
                    frame = json.loads(raw)
                    if frame.get("type") != "next":
                        continue
                    event = frame["payload"]["data"]["events"]
                    text = (event.get("message") or {}).get("content", {}).get("text")
                    if not text or ":" not in text:
                        continue
                    key, sent_ns = text.split(":")
                    got = arrivals.setdefault(key, [])
                    got.append((now - int(sent_ns)) / 1e6)
                    if len(got) >= expected:
                        complete.setdefault(key, asyncio.Event()).set()

        receivers = [asyncio.create_task(receive(token)) for _, token in members]
        try:
            for _ in members:
                await asyncio.wait_for(ready.acquire(), 120)
            # One message every subscription must see before measuring: all are live now.
            complete["warmup"] = asyncio.Event()
            await self.send(group, members[0][1], f"warmup:{time.perf_counter_ns()}")
            await asyncio.wait_for(complete["warmup"].wait(), 120)
            keys = [f"m{n}" for n in range(messages)]
            for key in keys:
                complete[key] = asyncio.Event()
            start = time.perf_counter()
            sends = []
            for n, key in enumerate(keys):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                token = members[n % len(members)][1]
                text = f"{key}:{time.perf_counter_ns()}"
                sends.append(asyncio.create_task(self.send(group, token, text)))
            await asyncio.gather(*sends)
            try:
                await asyncio.wait_for(asyncio.gather(*(complete[k].wait() for k in keys)), 60)
            except TimeoutError:
                pass
        finally:
            for task in receivers:
                task.cancel()
            await asyncio.gather(*receivers, return_exceptions=True)
        deliveries = [ms for key in keys for ms in arrivals.get(key, [])]
        last = [max(arrivals[key]) for key in keys if len(arrivals.get(key, [])) >= expected]
        missing = messages * expected - len(deliveries)
        return deliveries, last, missing

    async def send(self, group: str, token: str, text: str) -> None:
        await self.gql(SEND, {"c": group, "id": uuid.uuid4().hex, "t": text}, token)

    async def member_pages(self, group: str, token: str, limit: int, rounds: int) -> tuple[list[float], float]:
        """(latency of every page, mean time to walk the whole list)"""
        pages: list[float] = []
        walks: list[float] = []
        for _ in range(rounds):
            cursor: str | None = None
            walk_start = time.perf_counter()
            while True:
                started = time.perf_counter()
                data = await self.gql(MEMBERS, {"g": group, "l": limit, "c": cursor}, token)
                pages.append((time.perf_counter() - started) * 1000)
                cursor = data["groupMemberList"]["nextCursor"]
                if cursor is None:
                    break
            walks.append((time.perf_counter() - walk_start) * 1000)
        return pages, statistics.mean(walks)


def figures(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 0.5):.1f} ms, p99 {percentile(values, 0.99):.1f} ms, "
        f"mean {statistics.mean(values):.1f} ms (n={len(values)})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second into the group")
    parser.add_argument("--page-rounds", type=int, default=10, help="full walks of the member list per page size")
    args = parser.parse_args()
    async with running_server(args.backend) as server:
        bench = GroupBench(server)
        try:
            print(f"backend: {args.backend}{' + redis' if args.backend == 'postgres' else ' + memory bus'}")
            print(f"machine: {os.cpu_count()} CPUs, load average before: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
            started = time.perf_counter()
            members = await bench.users(args.members)
            owner = members[0][1]
            created = await bench.gql(CREATE, {"n": "Bench", "m": [uid for uid, _ in members[1:]]}, owner)
            group = created["groupGroupCreate"]["group"]
            assert group["memberCount"] == args.members, created
            took = time.perf_counter() - started
            print(f"setup: {args.members} users and a {group['memberCount']}-member group in {took:.1f} s")

            deliveries, last, missing = await bench.fan_out(group["id"], members, args.messages, args.rate)
            print(
                f"fan-out of {args.messages} messages at {args.rate:g} msg/s to {args.members} connected members "
                f"(GraphQL over WebSocket):"
            )
            print(f"  every delivery, send->receive:   {figures(deliveries)}")
            print(f"  per message, until the last one: {figures(last)}")
            print(f"  deliveries missing after 60 s: {missing}")

            for limit in (50, 200):
                pages, walk = await bench.member_pages(group["id"], owner, limit, args.page_rounds)
                print(f"groupMemberList, pages of {limit}: {figures(pages)}; whole list of {args.members}: {walk:.1f} ms")
            assert server.proc is not None
            print(f"server RSS: {rss_mib(server.proc.pid):.0f} MiB")
            load = "/".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"load average after: {load} (the bench client and the server share the machine)")
        finally:
            await bench.http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
