"""Real `privchat-server` processes on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import backends

REPO = Path(__file__).resolve().parents[2]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    data_dir: Path
    database_url: str
    ws_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    tcp_port: int = field(default_factory=free_port)
    key_prefix: str = field(default_factory=lambda: "e" + uuid.uuid4().hex[:12])
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ws_port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/graphql"

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PRIVCHAT_") or k.startswith("PRIVCHAT_TEST")
        }
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "PRIVCHAT_JWT_SECRET": "e2e-secret-" + "y" * 40,
                "PRIVCHAT_SECURITY__PASSWORD_HASH_TIME_COST": "1",
                "PRIVCHAT_SECURITY__PASSWORD_HASH_MEMORY_KIB": "1024",
                "PRIVCHAT_CACHE__KEY_PREFIX": self.key_prefix,
                "PRIVCHAT_ENV_FILE": "/nonexistent/.env",
            }
        )
        if backends.IS_POSTGRES:
            env["REDIS_URL"] = backends.REDIS_URL
        env.pop("REDIS_URL", None) if not backends.IS_POSTGRES else None
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> ServerProcess:
        # A free port can be taken by someone else between picking and binding it:
        # try again on fresh ports in that case.
        for attempt in range(3):
            try:
                return self._start(timeout)
            except RuntimeError as exc:
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
                self.ws_port, self.http_port, self.tcp_port = free_port(), free_port(), free_port()
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"server-{self.ws_port}.log"
        log = self.log_path.open("wb")
        cmd = [
            sys.executable,
            "-m",
            "app",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--ws-port",
            str(self.ws_port),
            "--http-port",
            str(self.http_port),
            "--tcp-port",
            str(self.tcp_port),
            "--quic-port",
            str(self.tcp_port),
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if (
                    httpx.get(f"{self.service_url}/readyz", timeout=1).status_code == 200
                    # The client port is up (404: introspection is off, the schema unpublished).
                    and httpx.get(f"{self.base_url}/graphql/schema.graphql", timeout=1).status_code in (200, 404)
                ):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)
