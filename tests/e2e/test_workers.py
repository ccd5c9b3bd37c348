"""`serve --workers N`: N real processes on the same ports, acting as one service."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import REPO, ServerProcess, free_port

postgres_only = pytest.mark.skipif(
    not backends.IS_POSTGRES, reason="several workers need PostgreSQL + Redis (PRIVCHAT_TEST_BACKEND=postgres)"
)


def run_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("PRIVCHAT_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    base.update({"PRIVCHAT_ENV_FILE": "/nonexistent/.env", "PRIVCHAT_JWT_SECRET": "w" * 40, **(env or {})})
    ports = ["--ws-port", str(free_port()), "--http-port", str(free_port()), "--tcp-port", str(free_port())]
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path), *ports, "serve", *args],
        cwd=REPO,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_more_than_one_worker_is_refused_on_sqlite(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--workers", "2")
    assert result.returncode == 2
    assert "--workers 2 needs PostgreSQL" in result.stderr


def test_more_than_one_worker_is_refused_with_the_in_memory_bus(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--workers", "auto", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    cores = len(os.sched_getaffinity(0))
    if cores == 1:
        pytest.skip("one core: auto is one worker")
    assert result.returncode == 2
    assert f"--workers {cores} needs Redis" in result.stderr


def test_workers_is_also_a_global_flag(tmp_path: Path) -> None:
    ports = ["--ws-port", str(free_port()), "--http-port", str(free_port())]
    result = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path), *ports, "--workers", "3"],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("PRIVCHAT_") and k != "DATABASE_URL"}
        | {"PRIVCHAT_ENV_FILE": "/nonexistent/.env", "PRIVCHAT_JWT_SECRET": "w" * 40},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--workers 3 needs PostgreSQL" in result.stderr


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_worker_count_is_refused(tmp_path: Path, value: str) -> None:
    result = run_cli(tmp_path, "--workers", value)
    assert result.returncode == 2 and "--workers must be" in result.stderr


def wait_until_ready(server: ServerProcess, workers: int) -> None:
    deadline = time.monotonic() + 60
    while server.log().count("PrivChat ready") < workers:
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.1)


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def health_counts_per_worker(metrics_dir: Path) -> dict[int, float]:
    """`system/health` calls counted in each worker's own metrics file."""
    counts: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in metric.samples:
                if sample.name == "privchat_rpc_total" and sample.labels.get("route") == "system/health":
                    counts[pid] = counts.get(pid, 0) + sample.value
    return counts


def total_health_calls(server: ServerProcess) -> float:
    with httpx.Client(timeout=5) as http:  # a fresh connection: any worker may answer
        text = http.get(f"{server.service_url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("privchat_rpc_total{") and 'route="system/health"' in line
    )


@postgres_only
def test_workers_share_the_ports_report_metrics_together_survive_a_kill_and_stop_on_sigterm(
    server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    server = server_factory(
        extra_args=["serve", "--workers", "2"],
        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        key_prefix="wk" + uuid.uuid4().hex[:8],
    )
    assert server.proc is not None
    workers = children(server.proc.pid)
    assert len(workers) == 2
    wait_until_ready(server, 2)

    # 40 connections, one request each: the kernel spreads them over both workers, and
    # /metrics (answered by either) counts every one of them.
    for _ in range(40):
        with httpx.Client(timeout=10) as http:
            response = http.post(f"{server.graphql_url}", json={"query": "{ systemHealth { status } }"})
            assert response.json()["data"]["systemHealth"]["status"] == "ok"
    per_worker = health_counts_per_worker(metrics_dir)
    assert set(per_worker) == workers and all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == 40
    assert [total_health_calls(server) for _ in range(6)] == [40.0] * 6

    # kill -9 of one worker: the other keeps serving, the supervisor starts a new one.
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = children(server.proc.pid)
        if len(now) == 2 and victim not in now:
            break
        with httpx.Client(timeout=10) as http:
            assert http.get(f"{server.service_url}/healthz").status_code == 200
        time.sleep(0.2)
    else:
        raise AssertionError(f"no replacement worker: {children(server.proc.pid)}")
    replacement = (children(server.proc.pid) - workers).pop()
    deadline = time.monotonic() + 60  # until the new worker answers too
    while replacement not in health_counts_per_worker(metrics_dir) and time.monotonic() < deadline:
        with httpx.Client(timeout=10) as http:
            http.post(f"{server.graphql_url}", json={"query": "{ systemHealth { status } }"})
    assert replacement in health_counts_per_worker(metrics_dir)

    # SIGTERM to the supervisor stops every worker gracefully, then itself (exit 0).
    live = children(server.proc.pid)
    server.signal(signal.SIGTERM)
    assert server.wait(40) == 0
    for pid in live:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    log = server.log()
    assert log.count("PrivChat stopped") >= 2, log[-3000:]


@pytest.fixture
def two_workers(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    server = server_factory(extra_args=["serve", "--workers", "2"], key_prefix="wm" + uuid.uuid4().hex[:8])
    wait_until_ready(server, 2)
    return server


@postgres_only
async def test_a_message_sent_through_one_worker_reaches_a_device_on_the_other(two_workers: ServerProcess) -> None:
    from tests.support.sync_client import SyncClient

    server = two_workers
    s = uuid.uuid4().hex[:6]
    ann = SyncClient(server.base_url, f"ann{s}", "workers-pass-1", "phone")
    bob = SyncClient(server.base_url, f"bob{s}", "workers-pass-1", "phone")
    try:
        for client in (ann, bob):
            await client.register()
            await client.login()
        channel = await bob.open_direct(ann.user_id or "")
        await ann.connect()
        # Each send on a fresh connection: about half land on the worker ann is not on.
        for i in range(20):
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                bob.http, kept = http, bob.http
                try:
                    await bob.send_text(channel, f"m{i}")
                finally:
                    bob.http = kept
        await ann.wait_for(channel, 20, timeout=20)
        assert ann.texts(channel) == [f"m{i}" for i in range(20)]
        assert ann.live_applied == 20
    finally:
        await ann.close()
        await bob.close()
        await asyncio.sleep(0)
