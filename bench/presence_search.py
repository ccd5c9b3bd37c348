"""Message search and presence fan-out benchmark: prints figures (not a test).

    .venv/bin/python -m bench.presence_search                          # both, PostgreSQL + Redis
    .venv/bin/python -m bench.presence_search --only search --messages 1000000
    .venv/bin/python -m bench.presence_search --only presence --fans 500 --servers 2

1. Search over a stored corpus (default 1,000,000 messages in 2,000 direct channels) on
   PostgreSQL. Users and channels are created through the services; the messages are
   bulk-loaded with COPY (the trigram index is dropped for the load and rebuilt, as one
   would for an import), not sent through the API. Ten searchers each belong to 100
   channels (50,000 visible messages, 950,000 not theirs); queries of several kinds go
   over GraphQL/HTTP to a real server process, one at a time: p50/p99 per kind.
2. Presence fan-out: a user with --fans friends, each of them subscribed to the user's
   presence and holding a live `events` WebSocket subscription (spread over --servers
   processes sharing PostgreSQL and Redis). The user's own stream opens on process 0:
   time until every fan has the PresenceEvent (ONLINE), and the same for OFFLINE when it
   closes; several rounds.

Figures depend on the machine: the reference runs were on 2 cores shared with other
work, client and servers on the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets

from app import runtime
from app.config import load_settings
from app.db.types import now_ms
from app.messaging import search_store
from app.messaging.search import SearchRequest
from app.principal import Principal
from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess

PASSWORD = "bench-password-1"
JWT_SECRET = "e2e-secret-" + "y" * 40  # what tests/support/server.py gives its processes
LIMITS = {
    "PRIVCHAT_SECURITY__RPC_PER_USER": "1000000/minute",
    "PRIVCHAT_SECURITY__REGISTER_PER_IP": "1000000/hour",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_IP": "1000000/minute",
    "PRIVCHAT_LOGGING__LEVEL": "warning",
}
SEARCH = """query($i: MessageHistorySearchInput!) { messageHistorySearch(input: $i) {
  messages { id channelId pts } nextCursor } }"""
PACE_S = 0.06  # between searches: 10 searchers, each under 120/minute
EVENTS = "subscription { events { __typename ... on PresenceEvent { userId status } } }"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: Sequence[float]) -> str:
    return f"p50 {percentile(values, 0.5):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms  (n={len(values)})"


class Api:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        # No keep-alive: on this server a request on a reused connection waits ~40 ms more
        # (seen with curl too: a TCP delayed-ACK/Nagle interplay), which would drown the figures.
        self.http = httpx.AsyncClient(
            base_url=server.base_url, timeout=120, limits=httpx.Limits(max_connections=50, max_keepalive_connections=0)
        )

    async def gql(self, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = (await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def user(self, name: str, *, register: bool = True) -> tuple[str, str]:
        if register:
            await self.gql(
                "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) "
                "{ user { id } } }",
                {"u": name, "p": PASSWORD},
            )
        data = await self.gql(
            "mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, "
            'deviceId: "bench", platform: "linux"}) { accessToken user { id } } }',
            {"u": name, "p": PASSWORD},
        )
        login = data["accountAuthLogin"]
        return login["user"]["id"], login["accessToken"]

    async def close(self) -> None:
        await self.http.aclose()


async def gather_limited(limit: int, coros: Sequence[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))


# --- 1. search ---------------------------------------------------------------------------


def vocabulary(size: int, rng: random.Random) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["qua", "shi", "tho", "xen", "yor"]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


async def build_corpus(
    url: str, messages: int, data_dir: Path, key_prefix: str
) -> tuple[list[str], dict[int, list[int]]]:
    """1,010 users, 2,000 direct channels (searcher0..9 in 100 each), `messages` messages;
    returns (vocabulary by frequency rank, searcher number -> its channel ids)."""
    services = runtime.build_services(bench_settings(url, data_dir, key_prefix))
    await runtime.start(services)
    started = time.perf_counter()
    try:
        searchers = [
            (await services.accounts.register(username=f"searcher{i}", password=PASSWORD, display_name=None)).id
            for i in range(10)
        ]
        fillers = [
            (await services.accounts.register(username=f"filler{i}", password=PASSWORD, display_name=None)).id
            for i in range(1000)
        ]
        pairs = [(searchers[i // 100], fillers[i]) for i in range(1000)]
        pairs += [(fillers[i], fillers[(i + 1 + i // 100) % 1000]) for i in range(1000)]
        gate = asyncio.Semaphore(8)

        async def open_direct(a: int | None, b: int | None) -> tuple[int, int, int]:
            assert a is not None and b is not None
            async with gate:
                entry = await services.channels.open_direct(Principal(user_id=a, session_id=0, device_id="bench"), b)
            assert entry.channel.id is not None
            return entry.channel.id, a, b

        # one channel per pair (the pairs are distinct by construction)
        channels = list(await asyncio.gather(*(open_direct(a, b) for a, b in pairs)))
    finally:
        await runtime.stop(services)
    print(f"  users and channels through the services: {time.perf_counter() - started:.1f} s")

    rng = random.Random(20261126)
    words = vocabulary(5000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf
    per_channel = messages // len(channels)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        index_sql = await conn.fetchval("SELECT pg_get_indexdef('ix_messages_search_trgm'::regclass)")
        await conn.execute("DROP INDEX ix_messages_search_trgm")
        started = time.perf_counter()
        base = now_ms() - per_channel * 60_000
        columns = ["channel_id", "pts", "sender_id", "client_msg_id", "type", "content", "mention_all", "created_at"]
        batch: list[tuple[Any, ...]] = []
        loaded = 0
        # Interleave channels by time, as real traffic does (ids then follow time).
        for pts in range(1, per_channel + 1):
            for channel_id, a, b in channels:
                text = " ".join(rng.choices(words, weights, k=rng.randint(4, 14)))
                sender = a if rng.random() < 0.5 else b
                batch.append(
                    (
                        channel_id,
                        pts,
                        sender,
                        f"b{channel_id}-{pts}",
                        "text",
                        json.dumps({"text": text}),
                        False,
                        base + pts * 60_000,
                    )
                )
            if len(batch) >= 100_000:
                await conn.copy_records_to_table("messages", records=batch, columns=columns)
                loaded += len(batch)
                batch = []
        if batch:
            await conn.copy_records_to_table("messages", records=batch, columns=columns)
            loaded += len(batch)
        await conn.execute("UPDATE channels SET pts = $1, last_event_at = $2", per_channel, base + per_channel * 60_000)
        print(f"  COPY of {loaded:,} messages: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute(index_sql)
        await conn.execute("ANALYZE")  # what autovacuum would do after such a load
        size = await conn.fetchval("SELECT pg_size_pretty(pg_relation_size('ix_messages_search_trgm'))")
        print(f"  trigram index rebuilt in {time.perf_counter() - started:.1f} s ({size})")
    finally:
        await conn.close()
    return words, {n: [c for c, a, _ in channels if a == searchers[n]] for n in range(len(searchers))}


def bench_settings(url: str, data_dir: Path, key_prefix: str) -> Any:
    """Settings for in-process services on the bench database (same JWT secret as the servers)."""
    return load_settings(
        None,
        dev=True,
        data_dir=data_dir,
        database={"url": url, "auto_migrate": False},
        security={"password_hash_time_cost": 1, "password_hash_memory_kib": 1024, "jwt_secret": JWT_SECRET},
        cache={"redis_url": backends.REDIS_URL, "key_prefix": key_prefix},
    )


def search_kinds(words: list[str], rng: random.Random) -> dict[str, Any]:
    """Query makers: each returns GraphQL input fields (plus _pages / _channel hints)."""
    return {
        "common word (rank 1-20)": lambda: {"query": rng.choice(words[:20])},
        "medium word (rank 200-1000)": lambda: {"query": rng.choice(words[200:1000])},
        "rare word (rank 3000-5000)": lambda: {"query": rng.choice(words[3000:])},
        "two words (rank 50-500)": lambda: {"query": " ".join(rng.sample(words[50:500], 2))},
        "2-letter substring": lambda: {"query": rng.choice(words[:200])[:2]},
        "no match at all": lambda: {"query": "zzqx" + uuid.uuid4().hex[:4]},
        "rare word in one channel": lambda: {"query": rng.choice(words[3000:]), "_channel": True},
        "common word, 3rd page": lambda: {"query": rng.choice(words[:20]), "_pages": 3},
    }


async def bench_search(args: argparse.Namespace, workdir: Path) -> None:
    factory = DatabaseFactory(workdir)
    database = await factory.new()
    server = ServerProcess(data_dir=workdir / "search", database_url=database.url, extra_env=LIMITS)
    try:
        print(f"search: building a corpus of {args.messages:,} messages (PostgreSQL)")
        words, channels_of = await build_corpus(database.url, args.messages, workdir / "setup", server.key_prefix)
        await asyncio.to_thread(server.start)
        services = runtime.build_services(bench_settings(database.url, workdir / "inproc", server.key_prefix))
        await runtime.start(services)
        api = Api(server)
        steps: list[str] = []
        run = search_store._PgQuery.run
        try:
            logins = [await api.user(f"searcher{i}", register=False) for i in range(10)]
            principals = [await services.devices.authenticate(token) for _, token in logins]

            async def spy(self: Any, session: Any, sql: str, **extra: object) -> list[Any]:
                steps.append("index" if "MATERIALIZED" in sql else "scan" if "|| ''" in sql else "window")
                return await run(self, session, sql, **extra)

            async def in_process(n: int, fields: dict[str, Any], cursor: str | None) -> tuple[int, str | None, float]:
                request = SearchRequest(
                    query=fields["query"],
                    channel_id=int(fields["channelId"]) if "channelId" in fields else None,
                )
                steps.clear()
                started = time.perf_counter()
                page = await services.message_search.search(principals[n], request, cursor=cursor, limit=20)
                elapsed = (time.perf_counter() - started) * 1000
                answered.append(steps[-1])
                return len(page.messages), page.next_cursor, elapsed

            last = time.perf_counter()

            async def over_http(n: int, fields: dict[str, Any], cursor: str | None) -> tuple[int, str | None, float]:
                nonlocal last
                # Stay under the route's per-user rate limit (10 searchers take turns); not timed.
                await asyncio.sleep(max(0.0, PACE_S - (time.perf_counter() - last)))
                last = started = time.perf_counter()
                data = await api.gql(SEARCH, {"i": {**fields, "limit": 20, "cursor": cursor}}, logins[n][1])
                elapsed = (time.perf_counter() - started) * 1000
                found = data["messageHistorySearch"]
                return len(found["messages"]), found["nextCursor"], elapsed

            for _ in range(5):  # warm the server and PostgreSQL caches
                await over_http(0, {"query": words[_ * 7]}, None)
            floor = []
            for _ in range(args.queries):  # an authenticated no-op: the HTTP, auth and rate-limit cost
                started = time.perf_counter()
                await api.gql("query { presenceStats { subscriptions } }", {}, logins[1][1])
                floor.append((time.perf_counter() - started) * 1000)
            print(
                f"search over {args.messages:,} messages, {args.queries} queries per kind, one at a time; "
                "each searcher is in 100 of the 2,000 channels (5% of the messages)"
            )
            print(f"  {'GraphQL/HTTP floor (no-op query)':34s} {summary(floor)}")
            print("  (in process: which step answered, see app/messaging/search_store.py: window | index | scan)")
            search_store._PgQuery.run = spy  # type: ignore[method-assign]
            for door, call in (("service, in process", in_process), ("GraphQL over HTTP", over_http)):
                print(f"  -- {door}:")
                rng = random.Random(7)
                for name, make in search_kinds(words, rng).items():
                    latencies: list[float] = []
                    hits: list[int] = []
                    answered: list[str] = []
                    for n in range(args.queries):
                        searcher = n % len(logins)
                        fields = make()
                        pages = fields.pop("_pages", 1)
                        if fields.pop("_channel", False):
                            fields["channelId"] = str(rng.choice(channels_of[searcher]))
                        cursor: str | None = None
                        for _ in range(pages):
                            count, cursor, elapsed = await call(searcher, fields, cursor)
                            if cursor is None:
                                break
                        latencies.append(elapsed)
                        hits.append(count)
                    by = ", ".join(f"{k} {v}" for k, v in sorted(Counter(answered).items()))
                    print(f"  {name:34s} {summary(latencies)}  hits/page {statistics.mean(hits):4.1f}  {by}")
        finally:
            search_store._PgQuery.run = run  # type: ignore[method-assign]
            await api.close()
            await runtime.stop(services)
    finally:
        server.stop()
        await factory.drop_all()


# --- 2. presence fan-out -------------------------------------------------------------------


class Fan:
    def __init__(self, api: Api, name: str) -> None:
        self.api = api
        self.name = name
        self.id = ""
        self.token = ""
        self.ws: Any = None
        self.arrivals: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None

    async def live(self) -> None:
        self.ws = await websockets.connect(self.api.server.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await self.ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}})
        )
        assert json.loads(await self.ws.recv())["type"] == "connection_ack"
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame.get("type") == "next":
                event = frame["payload"]["data"]["events"]
                if event.get("__typename") == "PresenceEvent":
                    self.arrivals.put_nowait((event["status"], time.perf_counter()))

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()


async def bench_presence(args: argparse.Namespace, workdir: Path) -> None:
    factory = DatabaseFactory(workdir)
    database = await factory.new()
    prefix = "bp" + uuid.uuid4().hex[:8]
    servers = [
        ServerProcess(data_dir=workdir / f"presence{i}", database_url=database.url, key_prefix=prefix, extra_env=LIMITS)
        for i in range(args.servers)
    ]
    apis: list[Api] = []
    fans: list[Fan] = []
    try:
        for server in servers:
            await asyncio.to_thread(server.start)
            apis.append(Api(server))
        print(f"presence fan-out: 1 user, {args.fans} friends subscribed, {args.servers} server process(es)")
        started = time.perf_counter()
        star_id, star_token = await apis[0].user("star")
        fans = [Fan(apis[i % len(apis)], f"fan{i}") for i in range(args.fans)]

        async def join(fan: Fan) -> None:
            fan.id, fan.token = await fan.api.user(fan.name)
            found = await fan.api.gql(
                "query { accountSearchQuery(input: {query: \"star\"}) { results { user { id } searchProof } } }",
                {},
                fan.token,
            )
            proof = next(r["searchProof"] for r in found["accountSearchQuery"]["results"] if r["user"]["id"] == star_id)
            await fan.api.gql(
                "mutation($u: ID!, $p: String) "
                "{ contactFriendApply(input: {userId: $u, source: SEARCH, searchProof: $p}) { outcome } }",
                {"u": star_id, "p": proof},
                fan.token,
            )

        await gather_limited(16, [join(f) for f in fans])
        await gather_limited(
            16,
            [
                apis[0].gql(
                    "mutation($u: ID!) { contactFriendAccept(input: {userId: $u}) { channelId } }",
                    {"u": f.id},
                    star_token,
                )
                for f in fans
            ],
        )
        # Only friends may see the star: the privacy check runs for every fan on each transition.
        await apis[0].gql(
            "mutation { accountPrivacyUpdate(input: {showOnline: FRIENDS}) { settings { showOnline } } }",
            {},
            star_token,
        )
        await gather_limited(
            16,
            [
                f.api.gql(
                    "mutation($u: [ID!]!) { presenceSubscribe(input: {userIds: $u}) { subscriptions } }",
                    {"u": [star_id]},
                    f.token,
                )
                for f in fans
            ],
        )
        await gather_limited(32, [f.live() for f in fans])
        await asyncio.sleep(2)  # every subscription is listening
        took = time.perf_counter() - started
        print(f"  setup (register, befriend, subscribe, {args.fans} live WebSockets): {took:.1f} s")
        star = Fan(apis[0], "star")
        star.token = star_token
        all_online: list[float] = []
        all_offline: list[float] = []
        firsts: list[float] = []
        for _ in range(args.rounds):
            for status, sink in (("ONLINE", all_online), ("OFFLINE", all_offline)):
                begin = time.perf_counter()
                if status == "ONLINE":
                    await star.live()
                else:
                    await star.close()
                arrivals = await asyncio.wait_for(asyncio.gather(*(f.arrivals.get() for f in fans)), 60)
                assert all(s == status for s, _ in arrivals), arrivals[:3]
                delays = [(at - begin) * 1000 for _, at in arrivals]
                sink.append(max(delays))
                firsts.append(min(delays))
                if status == "ONLINE":
                    await asyncio.sleep(0.5)
            await asyncio.sleep(0.5)
        print(f"  until all {args.fans} fans have ONLINE  (per round, {args.rounds} rounds): {summary(all_online)}")
        print(f"  until all {args.fans} fans have OFFLINE (per round, {args.rounds} rounds): {summary(all_offline)}")
        print(f"  first fan served after: median {statistics.median(firsts):.1f} ms")
    finally:
        for fan in fans:
            await fan.close()
        for api in apis:
            await api.close()
        for server in servers:
            server.stop()
        await factory.drop_all()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["search", "presence"], default=None)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=60, help="queries per kind")
    parser.add_argument("--fans", type=int, default=500)
    parser.add_argument("--servers", type=int, default=2, help="server processes for the fan-out (share Redis)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # Both parts need PostgreSQL + Redis (tests/support/backends.py finds them).
    backends.BACKEND = "postgres"
    backends.IS_POSTGRES = True
    ok, why = await asyncio.to_thread(backends.services_available)
    if not ok:
        raise SystemExit(why)
    workdir = Path(tempfile.mkdtemp(prefix="privchat-bench-"))
    if args.only in (None, "search"):
        await bench_search(args, workdir)
    if args.only in (None, "presence"):
        await bench_presence(args, workdir)


if __name__ == "__main__":
    asyncio.run(main())
