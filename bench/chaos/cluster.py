"""The service under test and the faults done to it, for real.

P server processes (each `serve --workers W`) on PostgreSQL + Redis, where Redis is a
redis-server of our own and PostgreSQL is reached through a TCP proxy we can cut (the
shared services are never stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.backends import DatabaseFactory, TestDatabase
from tests.support.faults import RedisServer, TcpProxy
from tests.support.server import ServerProcess

CHAOS_ENV = {
    "PRIVCHAT_SECURITY__RPC_PER_USER": "1000000/minute",
    "PRIVCHAT_SECURITY__REGISTER_PER_IP": "1000000/hour",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_IP": "1000000/minute",
    "PRIVCHAT_SECURITY__LOGIN_ATTEMPTS_PER_ACCOUNT": "1000000/minute",
    "PRIVCHAT_LOGGING__LEVEL": "info",  # workers announce "PrivChat ready" at info
    "PRIVCHAT_HTTP__SHUTDOWN_GRACE_SECONDS": "5",
}


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Cluster:
    workdir: Path
    processes: int = 2
    workers: int = 2
    db_factory: DatabaseFactory | None = None
    servers: list[ServerProcess] = field(default_factory=list)
    redis: RedisServer | None = None
    proxy: TcpProxy | None = None
    database: TestDatabase | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    async def start(self) -> Cluster:
        self.db_factory = self.db_factory or DatabaseFactory(self.workdir / "db")
        self.database = await self.db_factory.new()
        self.redis = RedisServer(self.workdir / "redis").start()
        self.proxy = TcpProxy("127.0.0.1", 5432).start()
        url = self.database.url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{self.proxy.port}/")
        prefix = "chaos" + uuid.uuid4().hex[:8]
        args = ["serve", "--workers", str(self.workers)] if self.workers > 1 else []
        env = {**CHAOS_ENV, "DATABASE_URL": url, "REDIS_URL": self.redis.url, **self.extra_env}
        for i in range(self.processes):
            server = ServerProcess(
                self.workdir / f"server{i}", self.database.url, key_prefix=prefix, extra_env=env, extra_args=args
            )
            self.servers.append(server)
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in self.servers))
        await asyncio.gather(*(asyncio.to_thread(self._all_workers_ready, s) for s in self.servers))
        return self

    def _all_workers_ready(self, server: ServerProcess, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while self.workers > 1 and server.log().count("PrivChat ready") < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers not ready:\n{server.log()[-3000:]}")
            time.sleep(0.1)

    @property
    def graphql_servers(self) -> list[str]:
        return [s.base_url for s in self.servers]

    @property
    def native_endpoints(self) -> list[str]:
        return [f"tcp://127.0.0.1:{s.tcp_port}" for s in self.servers]

    async def stop(self) -> None:
        for server in self.servers:
            await asyncio.to_thread(server.stop)
        if self.proxy is not None:
            self.proxy.close()
        if self.redis is not None:
            self.redis.stop()
        if self.db_factory is not None and self.database is not None:
            await self.db_factory.drop(self.database)

    # -- faults: each returns when the fault is over (the service may still be recovering) ----

    async def kill_worker(self, seconds: float) -> str:
        server = self.servers[0]
        assert server.proc is not None
        pids = children(server.proc.pid) or [server.proc.pid]
        os.kill(pids[0], signal.SIGKILL)
        await asyncio.sleep(seconds)  # the supervisor restarts it meanwhile
        return f"kill -9 of worker pid {pids[0]} of process 0"

    async def kill_process(self, seconds: float) -> str:
        server = self.servers[-1]
        assert server.proc is not None
        for pid in [*children(server.proc.pid), server.proc.pid]:
            os.kill(pid, signal.SIGKILL)
        server.proc.wait(10)
        await asyncio.sleep(seconds)
        began = time.monotonic()
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(self._all_workers_ready, server)
        return (
            f"kill -9 of process {len(self.servers) - 1} and its workers, restarted after {seconds:.0f}s, "
            f"ready {time.monotonic() - began:.1f}s later"
        )

    async def redis_outage(self, seconds: float) -> str:
        assert self.redis is not None
        self.redis.stop()
        await asyncio.sleep(seconds)
        self.redis.start()
        return f"redis-server killed, restarted after {seconds:.0f}s (empty)"

    async def postgres_outage(self, seconds: float) -> str:
        assert self.proxy is not None
        self.proxy.cut()
        await asyncio.sleep(seconds)
        self.proxy.restore()
        return f"PostgreSQL unreachable for {seconds:.0f}s (connections reset, new ones refused)"

    async def rolling_restart(self, seconds: float) -> str:
        timings = []
        for server in self.servers:
            began = time.monotonic()
            server.signal(signal.SIGTERM)
            code = await asyncio.to_thread(server.wait, 40)
            stopped = time.monotonic()
            await asyncio.to_thread(server.start)
            await asyncio.to_thread(self._all_workers_ready, server)
            timings.append(f"exit {code} after {stopped - began:.1f}s, ready {time.monotonic() - stopped:.1f}s later")
        return "SIGTERM and restart of each process in turn: " + "; ".join(timings)

    def rss_mib(self) -> float:
        """Resident memory of every server process and worker, in MiB."""
        total = 0.0
        for server in self.servers:
            if server.proc is None:
                continue
            for pid in [server.proc.pid, *children(server.proc.pid)]:
                with contextlib.suppress(OSError):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) / 1024
        return total

    async def metric(self, name: str) -> float:
        """A Prometheus counter or gauge (without labels) summed over the server processes
        (each process's /metrics covers all its workers)."""
        total = 0.0
        async with httpx.AsyncClient(timeout=5) as http:
            for server in self.servers:
                with contextlib.suppress(httpx.HTTPError):
                    text = (await http.get(server.service_url + "/metrics")).text
                    for line in text.splitlines():
                        if line.startswith(name + " "):
                            total += float(line.split()[1])
        return total

    def fault(self, name: str) -> Callable[[float], Awaitable[str]]:
        return {
            "kill-worker": self.kill_worker,
            "kill-process": self.kill_process,
            "redis": self.redis_outage,
            "postgres": self.postgres_outage,
            "rolling-restart": self.rolling_restart,
        }[name]


FAULTS = ("kill-worker", "kill-process", "redis", "postgres", "rolling-restart", "slow-consumer")
