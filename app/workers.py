"""`serve --workers N`: one supervisor process running N server processes on the same ports.

Each worker is a complete server (`python -m app` with the same arguments, marked by
the WORKER_ENV variable) that binds every listening port with SO_REUSEPORT, so the
kernel spreads new TCP connections (and QUIC peers, by address) over the workers. They
act as one service through PostgreSQL and Redis, exactly like separate servers do;
hence N > 1 is refused on SQLite or without Redis.

The supervisor prepares what must happen once (migrations, development secrets: see
`app.main.prepare_workers`), starts the workers, restarts one that dies (a crash, an
OOM kill), and on SIGTERM/SIGINT asks every worker to stop gracefully and waits for
them. Metrics: prometheus-client's multiprocess mode, one directory shared by the
workers (PROMETHEUS_MULTIPROC_DIR, a fresh temporary one unless set), so /metrics on
any worker reports all of them.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from app.config import Settings

log = logging.getLogger(__name__)

WORKER_ENV = "_PRIVCHAT_WORKER"  # set in each worker's environment: its index
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STARTUP_SECONDS = 15.0  # a worker exiting sooner than this at the first start stops everything
RESTART_DELAY = 1.0


class WorkersError(ValueError):
    """`--workers` cannot be honoured with this configuration."""


def worker_index() -> int | None:
    """This process's index when it is a worker of `serve --workers N`, else None."""
    value = os.environ.get(WORKER_ENV)
    return int(value) if value is not None and value.isdigit() else None


def parse_workers(value: str) -> int:
    """`N` (>= 1) or `auto` (one per core this process may run on)."""
    if value.strip().lower() == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    try:
        count = int(value)
    except ValueError:
        raise WorkersError(f"--workers must be a number or 'auto', not {value!r}") from None
    if count < 1:
        raise WorkersError("--workers must be at least 1")
    return count


def check_workers(settings: Settings, count: int) -> None:
    """Refuse N > 1 where workers could not act as one service."""
    if count <= 1:
        return
    if settings.is_sqlite:
        raise WorkersError(
            f"--workers {count} needs PostgreSQL (DATABASE_URL): SQLite allows one writing process; "
            "use --workers 1 with SQLite"
        )
    if not settings.redis_url:
        raise WorkersError(
            f"--workers {count} needs Redis (REDIS_URL): with the in-memory bus a message sent "
            "through one worker would never reach devices connected to another"
        )
    ports = {"--ws-port": settings.http.ws_port, "--http-port": settings.http.port}
    for listener in settings.gateway.listeners:
        ports[f"gateway {listener.protocol} listener"] = settings.listener_address(listener)[1]
    for name, port in ports.items():
        if port == 0:
            raise WorkersError(f"--workers {count} needs fixed ports: {name} is 0 (any free port)")


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, count: int, *, command: list[str], grace_seconds: float) -> None:
        self.count = count
        self.command = command
        self.stop_timeout = grace_seconds + 15.0
        self.workers: dict[int, _Worker] = {}
        self._stopping = False
        self._first_start = True
        self._own_metrics_dir: Path | None = None
        self._metrics_dir = self._prepare_metrics_dir()

    def _prepare_metrics_dir(self) -> Path:
        configured = os.environ.get(MULTIPROC_ENV)
        if configured:
            path = Path(configured)
            path.mkdir(parents=True, exist_ok=True)
            for stale in path.glob("*.db"):  # values of a previous run are not this run's
                stale.unlink()
            return path
        self._own_metrics_dir = Path(tempfile.mkdtemp(prefix="privchat-metrics-"))
        return self._own_metrics_dir

    def _spawn(self, index: int) -> None:
        env = dict(os.environ)
        env[WORKER_ENV] = str(index)
        env[MULTIPROC_ENV] = str(self._metrics_dir)
        env["PRIVCHAT_DATABASE__AUTO_MIGRATE"] = "false"  # done once, by the supervisor
        proc = subprocess.Popen(self.command, env=env)
        self.workers[index] = _Worker(index, proc)
        log.info("worker %d started (pid %d)", index, proc.pid)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stopping:
            log.info("%s: stopping %d workers", signal.Signals(signum).name, len(self.workers))
        self._stopping = True
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)

    def run(self) -> int:
        """Start the workers and supervise them until a signal stops them; the exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            return self._supervise()
        finally:
            self._kill_leftovers()
            if self._own_metrics_dir is not None:
                shutil.rmtree(self._own_metrics_dir, ignore_errors=True)

    def _supervise(self) -> int:
        for index in range(self.count):
            self._spawn(index)
        log.info("PrivChat supervisor (pid %d): %d workers", os.getpid(), self.count)
        stop_deadline: float | None = None
        exit_code = 0
        while self.workers:
            if self._stopping and stop_deadline is None:
                stop_deadline = time.monotonic() + self.stop_timeout
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                log.error("workers still running %.0fs after SIGTERM: killing them", self.stop_timeout)
                self._kill_leftovers()
            for index, worker in list(self.workers.items()):
                code = worker.proc.poll()
                if code is None:
                    continue
                del self.workers[index]
                self._forget_metrics(worker.proc.pid)
                if self._stopping:
                    continue
                uptime = time.monotonic() - worker.started
                if self._first_start and uptime < STARTUP_SECONDS and code > 0:
                    # A worker that cannot start (port in use, bad config) will not start
                    # on a retry either: stop the others and report its failure. (Killed
                    # by a signal, code < 0, is not its own failure: it is restarted.)
                    log.error("worker %d exited with %d while starting: stopping", index, code)
                    exit_code = code
                    self._on_signal(signal.SIGTERM, None)
                    continue
                log.warning("worker %d (pid %d) exited with %d: restarting it", index, worker.proc.pid, code)
                time.sleep(RESTART_DELAY)
                if not self._stopping:
                    self._spawn(index)
            if self._first_start and all(time.monotonic() - w.started > STARTUP_SECONDS for w in self.workers.values()):
                self._first_start = False
            time.sleep(0.1)
        log.info("PrivChat supervisor stopped")
        return exit_code

    def _forget_metrics(self, pid: int) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(self._metrics_dir))

    def _kill_leftovers(self) -> None:
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(5)


def supervise(settings: Settings, count: int) -> int:
    """Run `count` workers of this very command line until stopped; the exit code."""
    command = [sys.executable, "-m", "app", *sys.argv[1:]]
    return Supervisor(count, command=command, grace_seconds=settings.http.shutdown_grace_seconds).run()
