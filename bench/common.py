"""Shared setup of the benchmarks: a real server process on 127.0.0.1, users made
over GraphQL, percentiles and the server's RSS. Not a test."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess

PASSWORD = "bench-password-1"
BENCH_ENV = {
    "PRIVCHAT_SECURITY__RPC_PER_USER": "1000000/minute",
    "PRIVCHAT_SECURITY__REGISTER_PER_IP": "1000000/hour",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_IP": "1000000/minute",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_ACCOUNT": "1000000/minute",
    "PRIVCHAT_LOGGING__LEVEL": "warning",
}


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres"],
        default="postgres",
        help="postgres: PostgreSQL 127.0.0.1:5432 + Redis 6379 (the issue's setup); sqlite: embedded",
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@asynccontextmanager
async def running_server(backend: str, extra_env: dict[str, str] | None = None) -> AsyncIterator[ServerProcess]:
    os.environ["PRIVCHAT_TEST_BACKEND"] = backend
    backends.BACKEND = backend
    backends.IS_POSTGRES = backend == "postgres"
    workdir = Path(tempfile.mkdtemp(prefix="privchat-bench-"))
    factory = DatabaseFactory(workdir)
    database = await factory.new()
    server = ServerProcess(
        data_dir=workdir / "data", database_url=database.url, extra_env={**BENCH_ENV, **(extra_env or {})}
    )
    await asyncio.to_thread(server.start, 60.0)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        await factory.drop_all()


class Accounts:
    """Register users and log devices in over GraphQL (setup, not measured)."""

    def __init__(self, server: ServerProcess) -> None:
        self.http = httpx.AsyncClient(
            base_url=server.base_url, timeout=120, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )

    async def gql(self, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = (await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]

    async def register(self, name: str) -> None:
        await self.gql(
            "mutation($u: String!, $p: String!) "
            "{ accountUserRegister(input: {username: $u, password: $p}) { user { id } } }",
            {"u": name, "p": PASSWORD},
        )

    async def login(self, name: str, device: str) -> tuple[str, str]:
        """(user id, access token)"""
        data = await self.gql(
            "mutation($u: String!, $p: String!, $d: String!) { accountAuthLogin(input: {username: $u, password: $p, "
            'deviceId: $d, deviceName: $d, platform: "linux"}) { accessToken user { id } } }',
            {"u": name, "p": PASSWORD, "d": device},
        )
        login = data["accountAuthLogin"]
        return login["user"]["id"], login["accessToken"]

    async def user(self, prefix: str) -> tuple[str, str, str]:
        """(username, user id, access token of device "bench")"""
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        await self.register(name)
        user_id, token = await self.login(name, "bench")
        return name, user_id, token

    async def direct(self, token: str, peer_id: str) -> str:
        data = await self.gql(
            "mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id } } }",
            {"u": peer_id},
            token,
        )
        return data["channelDirectGetOrCreate"]["channel"]["id"]

    async def close(self) -> None:
        await self.http.aclose()


async def bounded(concurrency: int, jobs: list[Any]) -> list[Any]:
    """Run coroutines with at most `concurrency` at a time, results in order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with semaphore:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))
