"""Operations from the command line: flags after the command, log formats and levels, `check`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support import backends
from tests.support.server import REPO, ServerProcess


def clean_environ(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("PRIVCHAT_") and not k.startswith("PRIVCHAT_TEST"))
        and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PRIVCHAT_ENV_FILE"] = "/nonexistent/.env"
    env.update(extra)
    return env


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_global_flags_after_the_command_and_the_compact_trace_log(
    server_factory: Callable[..., ServerProcess],
) -> None:
    # The server is started as `python -m app <its flags> serve --dev --log-format compact --log-level trace`.
    server = server_factory(extra_args=["serve", "--dev", "--log-format", "compact", "--log-level", "trace"])
    assert httpx.get(f"{server.service_url}/healthz", timeout=10).status_code == 200
    assert server.stop() == 0
    lines = [line for line in server.log().splitlines() if line.strip()]
    assert any(re.match(r"^\d\d:\d\d:\d\d I app\.main: PrivChat ready", line) for line in lines), lines[:5]
    # trace: the SQL statements are in the log too.
    assert any(" sqlalchemy.engine" in line and "SELECT" in line for line in lines)


def test_short_log_variables_reach_the_server_config() -> None:
    env = clean_environ(PRIVCHAT_LOG_LEVEL="warning", PRIVCHAT_LOG_FORMAT="json")
    shown = run("show-config", "--format", "json", "--dev", env=env)
    assert shown.returncode == 0, shown.stderr
    assert '"level": "warning"' in shown.stdout and '"format": "json"' in shown.stdout
    assert '"dev": true' in shown.stdout


def test_check_reports_each_dependency_and_fails_on_any(tmp_path: Path) -> None:
    env = clean_environ()
    data = str(tmp_path / "data")
    fresh = run("check", "--data-dir", data, env=env)
    assert fresh.returncode == 1
    assert "database: FAILED" in fresh.stdout and "privchat-server migrate" in fresh.stdout
    assert "storage source 0: ok" in fresh.stdout
    assert run("migrate", "--data-dir", data, env=env).returncode == 0
    ready = run("check", "--data-dir", data, env=env)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "database: ok" in ready.stdout and "migrations current" in ready.stdout
    down = run(
        "check",
        "--data-dir",
        data,
        env=clean_environ(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", REDIS_URL="redis://127.0.0.1:1/0"),
    )
    assert down.returncode == 1
    assert "database: FAILED: ConnectionError" in down.stdout and "redis: FAILED" in down.stdout
    assert "nobody" not in down.stdout  # credentials masked


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="PostgreSQL and Redis")
def test_check_passes_on_postgresql_and_redis(tmp_path: Path, db_factory: backends.DatabaseFactory) -> None:
    import asyncio

    database = asyncio.run(db_factory.new())
    try:
        env = clean_environ(DATABASE_URL=database.url, REDIS_URL=backends.REDIS_URL)
        result = run("check", "--data-dir", str(tmp_path), env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "redis: ok" in result.stdout
    finally:
        asyncio.run(db_factory.drop(database))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["show-config", "--format", "json", "--ws-port", "9999", "--dev"], {"ws_port": 9999, "dev": True}),
        (["--ws-port", "9998", "show-config", "--format", "json"], {"ws_port": 9998, "dev": False}),
        (["show-config", "--format=json", "--ws-port=9997", "-vv"], {"ws_port": 9997, "level": "debug"}),
    ],
)
def test_global_flags_work_before_or_after_the_command(args: list[str], expected: dict[str, object]) -> None:
    import json

    from click.testing import CliRunner

    from app.cli import main

    result = CliRunner().invoke(main, args, env=clean_environ(), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    got = {"ws_port": data["http"]["ws_port"], "dev": data["dev"], "level": data["logging"]["level"]}
    assert {k: got[k] for k in expected} == expected
