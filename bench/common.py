"""Shared setup of the benchmarks: a real server process on 127.0.0.1, users made
over GraphQL, percentiles and the server's RSS. Not a test."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
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


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(stat: str) -> float:
    # Fields after the command (which may contain spaces): utime and stime are 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _processes() -> list[tuple[int, int, str, str]]:
    """(pid, parent pid, command name, stat line) of every process."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.append((int(entry.name), ppid, name, stat))
    return out


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its live descendants (the workers)."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for p, parent, _, _ in procs:
        children.setdefault(parent, []).append(p)
    stats = {p: stat for p, _, _, stat in procs}
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += _cpu_of(stats[current])
        todo += children.get(current, [])
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL process on this machine (the server is shared: the
    figure includes whatever else uses it meanwhile)."""
    return sum(_cpu_of(stat) for _, _, name, stat in _processes() if name.startswith("postgres"))


@asynccontextmanager
async def running_server(
    backend: str, extra_env: dict[str, str] | None = None, extra_args: list[str] | None = None
) -> AsyncIterator[ServerProcess]:
    os.environ["PRIVCHAT_TEST_BACKEND"] = backend
    backends.BACKEND = backend
    backends.IS_POSTGRES = backend == "postgres"
    workdir = Path(tempfile.mkdtemp(prefix="privchat-bench-"))
    factory = DatabaseFactory(workdir)
    database = await factory.new()
    server = ServerProcess(
        data_dir=workdir / "data",
        database_url=database.url,
        extra_env={**BENCH_ENV, **(extra_env or {})},
        extra_args=list(extra_args or []),
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


def start_py_spy(
    server: ServerProcess, target: Path, *, fmt: str = "raw", rate: int = 200
) -> subprocess.Popen[bytes] | None:
    """py-spy on a server process (and its workers) until `stop_py_spy`: a flame graph
    (`fmt="flamegraph"`) or collapsed stacks (`"raw"`, which bench/top_frames.py reads)."""
    if server.proc is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "--rate", str(rate),
         "--pid", str(server.proc.pid), "--output", str(target), "--format", fmt, "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_py_spy(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(60)
