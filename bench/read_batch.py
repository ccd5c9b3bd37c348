"""read_batch over many channels in one call (not a test; prints figures).

    .venv/bin/python -m bench.read_batch                      # SQLite
    .venv/bin/python -m bench.read_batch --backend postgres   # PostgreSQL + Redis

Builds one user with --channels direct channels (one unread message each), then marks all
of them read with one `messageStatusReadBatch` call over GraphQL (in-process ASGI, so the
figure is the server's work), --rounds times, moving the read position each round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.support import backends

BATCH = "mutation($items: [ReadItem!]!) { messageStatusReadBatch(input: {items: $items}) { results { ok unread } } }"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    os.environ["PRIVCHAT_TEST_BACKEND"] = args.backend
    backends.BACKEND, backends.IS_POSTGRES = args.backend, args.backend == "postgres"

    from app import runtime
    from app.asgi import client_app
    from app.main import build_api
    from schema.transport import GraphQLApp
    from tests.conftest import make_settings
    from tests.support import factories
    from tests.support.backends import DatabaseFactory

    workdir = Path(tempfile.mkdtemp(prefix="privchat-bench-"))
    factory = DatabaseFactory(workdir)
    database = await factory.new()
    settings = make_settings(workdir / "data", database.url,
                             security={"rpc_per_user": "1000000/minute", "register_per_ip": "1000000/hour"})
    services = runtime.build_services(settings)
    await runtime.start(services)
    try:
        reader = await factories.account(services, "reader")
        channels = []
        for i in range(args.channels):
            peer = await factories.account(services, f"peer{i}")
            channel = await factories.direct_channel(services, reader, peer)
            for _ in range(args.rounds):
                await factories.send_text(services, peer, channel, "hello")
            channels.append(channel)
        api = build_api(settings)
        app = client_app(services, graphql=GraphQLApp(api, services), schema_sdl="")
        timings = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            for round_no in range(1, args.rounds + 1):
                items = [{"channelId": str(c), "pts": round_no} for c in channels]
                started = time.perf_counter()
                body = (await http.post("/graphql", json={"query": BATCH, "variables": {"items": items}},
                                        headers={"authorization": f"Bearer {reader.access_token}"})).json()
                timings.append((time.perf_counter() - started) * 1000)
                results = body["data"]["messageStatusReadBatch"]["results"]
                assert len(results) == len(channels) and all(r["ok"] for r in results), body
        timings.sort()
        print(f"backend: {args.backend}; read_batch over {args.channels} channels in one call, {args.rounds} rounds: "
              f"p50 {statistics.median(timings):.1f} ms, max {timings[-1]:.1f} ms")
    finally:
        await runtime.stop(services)
        await factory.drop_all()


if __name__ == "__main__":
    asyncio.run(main())
