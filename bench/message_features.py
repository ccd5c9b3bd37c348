"""Reactions, pins and forwards benchmark: starts a real server and prints figures (not a test).

    .venv/bin/python -m bench.message_features                       # SQLite + in-memory bus
    .venv/bin/python -m bench.message_features --backend postgres    # PostgreSQL + Redis

Measures, over GraphQL:
  1. reaction add/remove round trip p50/p99 (one client, sequential);
  2. reaction -> the peer's `events` subscription (graphql-transport-ws) latency p50/p99;
  3. reaction changes/s on ONE hot message (concurrent clients: they queue on the channel lock);
  4. messageReactionStats for 100 messages with reactions, p50/p99;
  5. messageForward of 50 messages to 20 channels (1000 copies in one call), per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import websockets

from app.config import DEFAULT_REACTION_EMOJI
from bench.common import percentile, running_server
from bench.messaging import Bench

REACT = """mutation($m: ID!, $e: String!) { messageReactionAdd(input: {messageId: $m, emoji: $e}) { changed } }"""
UNREACT = """mutation($m: ID!, $e: String!) { messageReactionRemove(input: {messageId: $m, emoji: $e}) { changed } }"""
STATS = """query($ids: [ID!]!) { messageReactionStats(input: {messageIds: $ids}) { messages { total } } }"""
FORWARD = """mutation($r: String!, $m: [ID!]!, $c: [ID!]!) {
  messageForward(input: {requestId: $r, messageIds: $m, channelIds: $c}) { results { ok } } }"""
SEND = """mutation($c: ID!, $id: String!, $t: String!) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: {text: {text: $t}}}) { message { id } } }"""
SUB = "subscription { events { __typename ... on ReactionEvent { emoji added } } }"
EMOJI = list(DEFAULT_REACTION_EMOJI)


def summary(label: str, values_ms: list[float]) -> str:
    p50, p99 = percentile(values_ms, 0.5), percentile(values_ms, 0.99)
    return f"{label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms (n={len(values_ms)})"


class FeatureBench(Bench):
    async def message(self, token: str, channel: str, text: str = "bench") -> str:
        data = await self.gql(SEND, {"c": channel, "id": uuid.uuid4().hex, "t": text}, token)
        return str(data["messageSend"]["message"]["id"])

    async def round_trips(self, n: int) -> list[float]:
        sender, _, channel = await self.pair(f"rt{uuid.uuid4().hex[:6]}")
        message = await self.message(sender, channel)
        took = []
        for i in range(n):
            started = time.perf_counter()
            await self.gql(REACT if i % 2 == 0 else UNREACT, {"m": message, "e": "👍"}, sender)
            took.append((time.perf_counter() - started) * 1000)
        return took

    async def live(self, n: int) -> list[float]:
        sender, receiver, channel = await self.pair(f"lv{uuid.uuid4().hex[:6]}")
        message = await self.message(sender, channel)
        took: list[float] = []
        async with websockets.connect(self.server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {receiver}"}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
            await asyncio.sleep(0.3)
            for i in range(n):
                started = time.perf_counter()
                await self.gql(REACT if i % 2 == 0 else UNREACT, {"m": message, "e": "🎉"}, sender)
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if (
                        frame.get("type") == "next"
                        and frame["payload"]["data"]["events"]["__typename"] == "ReactionEvent"
                    ):
                        break
                took.append((time.perf_counter() - started) * 1000)
        return took

    async def hot_message(self, clients: int, per_client: int) -> float:
        sender, receiver, channel = await self.pair(f"hot{uuid.uuid4().hex[:6]}")
        message = await self.message(sender, channel)

        async def toggle(token: str, emoji: str) -> None:
            for i in range(per_client):
                await self.gql(REACT if i % 2 == 0 else UNREACT, {"m": message, "e": emoji}, token)

        started = time.perf_counter()
        await asyncio.gather(*(toggle((sender, receiver)[c % 2], EMOJI[c % len(EMOJI)]) for c in range(clients)))
        return clients * per_client / (time.perf_counter() - started)

    async def stats(self, messages: int, n: int) -> list[float]:
        sender, receiver, channel = await self.pair(f"st{uuid.uuid4().hex[:6]}")
        ids = [await self.message(sender, channel, f"m{i}") for i in range(messages)]
        for i, message in enumerate(ids):
            for token in (sender, receiver):
                for emoji in EMOJI[: 1 + i % 4]:
                    await self.gql(REACT, {"m": message, "e": emoji}, token)
        took = []
        for _ in range(n):
            started = time.perf_counter()
            await self.gql(STATS, {"ids": ids}, receiver)
            took.append((time.perf_counter() - started) * 1000)
        return took

    async def forward(self, messages: int, targets: int, n: int) -> list[float]:
        forwarder, _, source = await self.pair(f"fw{uuid.uuid4().hex[:6]}")
        ids = [await self.message(forwarder, source, f"m{i}") for i in range(messages)]
        channels = []
        for i in range(targets):
            peer_id, _ = await self.user(f"fwt{i}{uuid.uuid4().hex[:5]}")
            data = await self.gql(
                "mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id } } }",
                {"u": peer_id},
                forwarder,
            )
            channels.append(data["channelDirectGetOrCreate"]["channel"]["id"])
        took = []
        for _ in range(n):
            started = time.perf_counter()
            data = await self.gql(FORWARD, {"r": uuid.uuid4().hex, "m": ids, "c": channels}, forwarder)
            took.append((time.perf_counter() - started) * 1000)
            assert all(r["ok"] for r in data["messageForward"]["results"])
        return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("-n", type=int, default=200, help="samples for the latency figures")
    args = parser.parse_args()
    async with running_server(args.backend) as server:
        bench = FeatureBench(server)
        try:
            print(f"backend: {args.backend}{' + redis' if args.backend == 'postgres' else ' + memory bus'}")
            print(summary("reaction add/remove round trip", await bench.round_trips(args.n)))
            print(summary("reaction -> peer's live stream", await bench.live(args.n)))
            rate = await bench.hot_message(clients=16, per_client=20)
            print(f"reaction changes/s on one hot message, 16 concurrent clients: {rate:.0f}")
            print(summary("reaction stats for 100 messages", await bench.stats(100, min(args.n, 100))))
            print(summary("forward 50 messages x 20 channels (1000 copies)", await bench.forward(50, 20, 5)))
        finally:
            await bench.http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
