"""`privchat-server` as an operator uses it: flags, .env, config files, every command.

In-process (click's CliRunner) where a process adds nothing; a real process
(`python -m app`) for exit codes of `serve`, .env loading from the working directory,
the JWT-secret refusals and JSON logs. `test_documented_commands_work` runs every
`$ ` command of docs/CONFIGURATION.md; the serve examples there are the ones run here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shlex
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from app.cli import main
from app.config import JWT_SECRET_PLACEHOLDER
from tests.conftest import make_settings
from tests.support import backends, factories
from tests.support.backends import DatabaseFactory
from tests.support.server import REPO, ServerProcess, free_port

SECRET = "cli-test-secret-" + "k" * 32
PASSWORD = "Tr1cky-admin-pass"
REGISTER = """mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }"""
LOGIN = """mutation($u: String!, $p: String!) {
  accountAuthLogin(input: {username: $u, password: $p, deviceId: "cli-1", deviceName: "CLI", platform: "linux"}) { accessToken }
}"""
PROFILE = "query { accountProfileGet { profile { username } } }"


def clean_environ(**extra: str) -> dict[str, str]:
    """The test process's environment without any PrivChat setting or secret, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("PRIVCHAT_") and not k.startswith("PRIVCHAT_TEST"))
        and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in set(os.environ) - set(clean_environ()):
        monkeypatch.delenv(name)
    # The CLI loads .env into os.environ: never the repository's own in these tests.
    monkeypatch.setenv("PRIVCHAT_ENV_FILE", "/nonexistent/.env")
    return monkeypatch


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Commands configure the root logger; give pytest its own back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a new process; `env` replaces the (cleaned) environment."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd or REPO,
        env=env if env is not None else clean_environ(PRIVCHAT_ENV_FILE="/nonexistent/.env"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def effective(result: Result | subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The configuration printed by `show-config --format json`."""
    status = result.returncode if isinstance(result, subprocess.CompletedProcess) else result.exit_code
    assert status == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# Precedence: CLI > env > file > defaults, through the real flags ----------------------------

# key: (how to read it from show-config, file line, env var, CLI flag, values: default, file, env, CLI)
KEYS: dict[str, tuple[Callable[[dict[str, Any]], Any], str, str, str, tuple[Any, ...]]] = {
    "http.port": (
        lambda c: c["http"]["port"],
        "[http]\nport = {}",
        "PRIVCHAT_HTTP__PORT",
        "--http-port",
        (9083, 1111, 2222, 3333),
    ),
    "logging.format": (
        lambda c: c["logging"]["format"],
        '[logging]\nformat = "{}"',
        "PRIVCHAT_LOGGING__FORMAT",
        "--log-format",
        ("text", "json", "text", "json"),
    ),
    "host": (
        lambda c: c["host"],
        'host = "{}"',
        "PRIVCHAT_HOST",
        "--host",
        ("0.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"),
    ),
    "data_dir": (
        lambda c: c["data_dir"],
        'data_dir = "{}"',
        "PRIVCHAT_DATA_DIR",
        "--data-dir",
        ("data", "from-file", "from-env", "from-cli"),
    ),
}
LAYERS = {
    "default": set(),
    "file": {"file"},
    "env over file": {"file", "env"},
    "cli over env": {"file", "env", "cli"},
    "cli over env, no file": {"env", "cli"},
}


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("key", KEYS)
def test_each_source_overrides_the_one_below(tmp_path: Path, key: str, layers: str) -> None:
    get, line, var, flag, (default, in_file, in_env, in_cli) = KEYS[key]
    given = LAYERS[layers]
    args, env = [], {}
    if "file" in given:
        config = tmp_path / "privchat.toml"
        # The file's section must stay valid TOML when the key is top-level: put it first.
        config.write_text(line.format(in_file) + "\n")
        args += ["--config-file", str(config)]
    if "env" in given:
        env[var] = str(in_env)
    if "cli" in given:
        args += [flag, str(in_cli)]
    expected = in_cli if "cli" in given else in_env if "env" in given else in_file if "file" in given else default
    assert get(effective(cli(*args, "show-config", "--format", "json", env=env))) == expected


def test_verbose_raises_the_log_level_unless_one_is_given() -> None:
    env = {"PRIVCHAT_LOGGING__LEVEL": "error"}
    assert effective(cli("show-config", "--format", "json", env=env))["logging"]["level"] == "error"
    assert effective(cli("-v", "show-config", "--format", "json", env=env))["logging"]["level"] == "info"
    assert effective(cli("-vv", "show-config", "--format", "json", env=env))["logging"]["level"] == "debug"
    both = cli("-vv", "--log-level", "warning", "show-config", "--format", "json", env=env)
    assert effective(both)["logging"]["level"] == "warning"


def test_dev_flag_and_config_file_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "privchat.toml"
    config.write_text("[http]\nport = 4444\n")
    shown = effective(cli("--dev", "show-config", "--format", "json", env={"PRIVCHAT_CONFIG_FILE": str(config)}))
    assert shown["dev"] is True and shown["http"]["port"] == 4444


def test_dotenv_sits_between_the_environment_and_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "privchat.toml").write_text('host = "10.0.0.1"\n[http]\nport = 1111\nws_port = 1112\n')
    (tmp_path / ".env").write_text(
        "PRIVCHAT_HTTP__PORT=2222\nPRIVCHAT_HOST=10.0.0.2\nDATABASE_URL=postgresql://u:dotenv-pw@dotenv.example/db\n"
    )
    env = clean_environ(PRIVCHAT_HOST="10.0.0.9")
    shown = effective(run("--config-file", "privchat.toml", "show-config", "--format", "json", env=env, cwd=tmp_path))
    assert shown["http"]["port"] == 2222  # .env over file
    assert shown["http"]["ws_port"] == 1112  # file over default
    assert shown["host"] == "10.0.0.9"  # real environment over .env
    assert shown["database"]["url"] == "postgresql://***:***@dotenv.example/db"  # secrets from .env too


def test_privchat_env_file_names_another_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PRIVCHAT_HTTP__PORT=2222\n")
    (tmp_path / "prod.env").write_text("PRIVCHAT_HTTP__WS_PORT=3333\n")
    env = clean_environ(PRIVCHAT_ENV_FILE=str(tmp_path / "prod.env"))
    shown = effective(run("show-config", "--format", "json", env=env, cwd=tmp_path))
    assert (shown["http"]["port"], shown["http"]["ws_port"]) == (9083, 3333)


def test_dotenv_can_name_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text("[http]\nport = 4444\n")
    (tmp_path / ".env").write_text("PRIVCHAT_CONFIG_FILE=site.toml\n")
    assert effective(run("show-config", "--format", "json", env=clean_environ(), cwd=tmp_path))["http"]["port"] == 4444


# generate-config, validate-config, bad configurations ------------------------------------------


def test_generated_config_validates(tmp_path: Path) -> None:
    path = tmp_path / "privchat.toml"
    generated = cli("generate-config", str(path))
    assert generated.exit_code == 0 and generated.stdout == f"wrote {path}\n"
    validated = cli("validate-config", str(path))
    assert validated.exit_code == 0 and validated.stdout == f"{path}: ok\n"


def test_generate_config_to_stdout() -> None:
    from app.config_file import render_example_config

    result = cli("generate-config", "-")
    assert result.exit_code == 0 and result.stdout == render_example_config()


def test_generate_config_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "privchat.toml"
    path.write_text("# mine\n")
    refused = cli("generate-config", str(path))
    assert refused.exit_code == 1 and "use --force" in refused.stderr and path.read_text() == "# mine\n"
    assert cli("generate-config", "--force", str(path)).exit_code == 0
    assert "[[gateway.listeners]]" in path.read_text()


BAD_CONFIGS = {
    "unknown top-level key": ("bogus = 1\n", "bogus: unknown key"),
    "unknown nested key": ("[http]\nprot = 1\n", "http.prot: unknown key"),
    "wrong type": ('[http]\nport = "abc"\n', "http.port: Input should be a valid integer"),
    "port out of range": ("[gateway]\ntcp_port = 70000\n", "gateway.tcp_port: Input should be less than or equal"),
    "malformed TOML": ("[http\nport = 1\n", "not valid TOML"),
    "secret in the file": ('[security]\njwt_secret = "s"\n', "security.jwt_secret: a secret is not read"),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_validate_config_names_the_bad_key(tmp_path: Path, case: str) -> None:
    text, expected = BAD_CONFIGS[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = cli("validate-config", str(path))
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and "ok" not in result.stdout


def test_validate_config_of_a_missing_file_fails(tmp_path: Path) -> None:
    result = cli("validate-config", str(tmp_path / "absent.toml"))
    assert result.exit_code == 2 and f"config file {tmp_path / 'absent.toml'}: not found" in result.stderr


def test_validate_config_includes_environment_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[http]\nport = 5555\n")
    by_env = cli("validate-config", str(path), env={"PRIVCHAT_HTTP__WS_PORT": "5555"})
    assert by_env.exit_code == 2 and "http.ws_port: port 5555 is also used by http.port" in by_env.stderr
    by_flag = cli("--ws-port", "0", "validate-config", str(path))
    assert by_flag.exit_code == 2 and "http.ws_port: Input should be greater than or equal to 1" in by_flag.stderr


@pytest.mark.parametrize("case", [*BAD_CONFIGS, "missing file"])
def test_serve_refuses_a_bad_config_before_listening(tmp_path: Path, case: str) -> None:
    path = tmp_path / "bad.toml"
    if case in BAD_CONFIGS:
        path.write_text(BAD_CONFIGS[case][0])
    expected = BAD_CONFIGS[case][1] if case in BAD_CONFIGS else "not found"
    env = clean_environ(PRIVCHAT_ENV_FILE="/nonexistent/.env", PRIVCHAT_JWT_SECRET=SECRET)
    ports = ["--ws-port", str(free_port()), "--http-port", str(free_port()), "--tcp-port", str(free_port())]
    result = run("--config-file", str(path), "--data-dir", str(tmp_path / "data"), *ports, "serve", env=env)
    assert result.returncode == 2, result.stderr
    assert "config error: " in result.stderr and expected in result.stderr


def test_serve_refuses_an_out_of_range_port_flag(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "--http-port", "70000")
    assert result.returncode == 2 and "config error: http.port: Input should be less than or equal to 65535" in (
        result.stderr
    )


# show-config -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_show_config_masks_every_secret(fmt: str) -> None:
    env = {
        "DATABASE_URL": "postgresql://privchat:db-Pa55word@db.example:5432/chat",
        "REDIS_URL": "redis://:redis-Pa55word@cache.example:6379/0",
        "PRIVCHAT_JWT_SECRET": "jwt-Secret-value-" + "q" * 32,
        "PRIVCHAT_SERVICE_KEY": "service-Key-value",
    }
    result = cli("show-config", "--format", fmt, env=env)
    assert result.exit_code == 0
    assert "db.example:5432/chat" in result.stdout and "cache.example" in result.stdout
    for leaked in ("db-Pa55word", "redis-Pa55word", "jwt-Secret-value", "service-Key-value", "privchat:"):
        assert leaked not in result.output, leaked


# JWT secret safety ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "no JWT secret: set PRIVCHAT_JWT_SECRET"),
        ("s" * 31, "at least 32 bytes"),
        (JWT_SECRET_PLACEHOLDER, "placeholder"),
    ],
    ids=["missing", "short", "placeholder"],
)
def test_production_mode_refuses_an_unsafe_jwt_secret(tmp_path: Path, secret: str | None, message: str) -> None:
    env = clean_environ(PRIVCHAT_ENV_FILE="/nonexistent/.env")
    if secret is not None:
        env["PRIVCHAT_JWT_SECRET"] = secret
    ports = ["--ws-port", str(free_port()), "--http-port", str(free_port()), "--tcp-port", str(free_port())]
    result = run("--data-dir", str(tmp_path / "data"), "--host", "127.0.0.1", *ports, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("refusing to start: ") and message in result.stderr


async def _login(server: ServerProcess, username: str, register: bool) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        if register:
            response = await http.post(
                "/graphql", json={"query": REGISTER, "variables": {"u": username, "p": PASSWORD}}
            )
            assert response.status_code == 200 and "errors" not in response.json(), response.text
        response = await http.post("/graphql", json={"query": LOGIN, "variables": {"u": username, "p": PASSWORD}})
        token: str = response.json()["data"]["accountAuthLogin"]["accessToken"]
        return token


async def _profile(server: ServerProcess, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        response = await http.post("/graphql", json={"query": PROFILE}, headers={"authorization": f"Bearer {token}"})
        body: dict[str, Any] = response.json()
        return body


def test_dev_mode_generates_a_jwt_secret_once_and_tokens_survive_a_restart(
    tmp_path: Path, db_factory: DatabaseFactory
) -> None:
    database = asyncio.run(db_factory.new())
    data_dir = tmp_path / "data"
    no_secret = {"PRIVCHAT_JWT_SECRET": ""}
    first = ServerProcess(data_dir=data_dir, database_url=database.url, extra_env=no_secret, extra_args=["--dev"])
    try:
        first.start()
        token = asyncio.run(_login(first, "devuser", register=True))
        assert first.stop() == 0
        secret_file = data_dir / "dev-jwt-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600 and len(secret_file.read_text().strip()) >= 32
        secret = secret_file.read_text()

        second = ServerProcess(data_dir=data_dir, database_url=database.url, extra_env=no_secret, extra_args=["--dev"])
        try:
            second.start()
            profile = asyncio.run(_profile(second, token))
            assert profile.get("errors") is None and profile["data"]["accountProfileGet"]["profile"]["username"] == (
                "devuser"
            )
        finally:
            second.stop()
        assert secret_file.read_text() == secret
    finally:
        first.stop()
        asyncio.run(db_factory.drop(database))


# Logs -----------------------------------------------------------------------------------------


def test_log_format_json_makes_every_line_a_json_object(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(extra_args=["--log-format", "json", "--log-level", "debug"])
    assert httpx.get(f"{server.service_url}/healthz", timeout=10).status_code == 200
    assert server.stop() == 0
    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert all(isinstance(r, dict) and {"ts", "level", "logger", "msg"} <= set(r) for r in records)
    messages = [r["msg"] for r in records]
    assert any(m.startswith("PrivChat ready") for m in messages) and "PrivChat stopped" in messages
    assert not any("\x1b[" in line for line in lines)


# migrate, create-admin, export-schema -------------------------------------------------------


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from app.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrate_an_empty_sqlite_file(tmp_path: Path) -> None:
    db_file = tmp_path / "empty.db"
    db_file.touch()
    env = clean_environ(PRIVCHAT_ENV_FILE="/nonexistent/.env", DATABASE_URL=f"sqlite:///{db_file}")
    for _ in range(2):  # a second run finds nothing to do
        result = run("migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"database at revision {_head_revision()}\n"
    assert db_file.stat().st_size > 0


def test_migrate_the_default_sqlite_database_in_the_data_dir(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path / "data"), "migrate")
    assert result.returncode == 0 and result.stdout == f"database at revision {_head_revision()}\n"
    assert (tmp_path / "data" / "privchat.db").is_file()


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="PRIVCHAT_TEST_BACKEND is not postgres")
def test_migrate_a_fresh_postgresql_database() -> None:
    name = f"privchat_cli_{uuid.uuid4().hex[:10]}"
    asyncio.run(backends._pg_exec(f'CREATE DATABASE "{name}"'))
    try:
        url = backends.PG_URL.rsplit("/", 1)[0] + f"/{name}"
        env = clean_environ(PRIVCHAT_ENV_FILE="/nonexistent/.env", DATABASE_URL=url)
        result = run("migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"database at revision {_head_revision()}\n"
    finally:
        asyncio.run(backends._pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def admin_env(tmp_path: Path, db_factory: DatabaseFactory) -> Iterator[dict[str, str]]:
    """Environment of create-admin on a fresh test database (either backend)."""
    database = asyncio.run(db_factory.new())
    env = {
        "DATABASE_URL": database.url,
        "PRIVCHAT_JWT_SECRET": SECRET,
        "PRIVCHAT_DATA_DIR": str(tmp_path / "data"),
        "PRIVCHAT_SECURITY__PASSWORD_HASH_TIME_COST": "1",
        "PRIVCHAT_SECURITY__PASSWORD_HASH_MEMORY_KIB": "1024",
        "PRIVCHAT_CACHE__KEY_PREFIX": "c" + uuid.uuid4().hex[:12],
    }
    if backends.IS_POSTGRES:
        env["REDIS_URL"] = backends.REDIS_URL
    yield env
    asyncio.run(db_factory.drop(database))


def _user(env: dict[str, str], output: str) -> tuple[str, bool]:
    """(username, is_admin) of the user create-admin reported."""
    match = re.fullmatch(r"admin (\S+) \(id (\d+)\) ready\n", output)
    assert match, output
    from app import runtime

    async def read() -> tuple[str, bool]:
        settings = make_settings(Path(env["PRIVCHAT_DATA_DIR"]), env["DATABASE_URL"])
        services = runtime.build_services(settings)
        await runtime.start(services)
        try:
            user = await services.accounts.get(int(match.group(2)))
            return user.username, user.is_admin
        finally:
            await runtime.stop(services)

    return asyncio.run(read())


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("source", ["flag", "env", "prompt"])
def test_create_admin_takes_the_password_from_flag_env_or_prompt(admin_env: dict[str, str], source: str) -> None:
    args = ["create-admin", "--username", "ops.alice"]
    if source == "flag":
        result = cli(*args, "--password", PASSWORD, env=admin_env)
    elif source == "env":
        result = cli(*args, env={**admin_env, "PRIVCHAT_ADMIN_PASSWORD": PASSWORD})
    else:
        result = cli(*args, env=admin_env, input=f"{PASSWORD}\n{PASSWORD}\n")
        assert "Password: " in result.stdout and PASSWORD not in result.stdout
    assert result.exit_code == 0, result.output
    assert _user(admin_env, result.stdout.splitlines()[-1] + "\n") == ("ops.alice", True)


@pytest.mark.usefixtures("restore_logging")
def test_create_admin_promotes_an_existing_user(admin_env: dict[str, str]) -> None:
    from app import runtime

    async def register() -> int:
        settings = make_settings(Path(admin_env["PRIVCHAT_DATA_DIR"]), admin_env["DATABASE_URL"])
        services = runtime.build_services(settings)
        await runtime.start(services)
        try:
            user_id = await factories.register(services, "bob")
            assert not (await services.accounts.get(user_id)).is_admin
            return user_id
        finally:
            await runtime.stop(services)

    user_id = asyncio.run(register())
    result = cli("create-admin", "--username", "bob", "--password", "ignored-for-existing-9", env=admin_env)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"admin bob (id {user_id}) ready\n"
    assert _user(admin_env, result.stdout) == ("bob", True)


@pytest.mark.usefixtures("restore_logging")
def test_create_admin_refuses_a_weak_password(admin_env: dict[str, str]) -> None:
    result = cli("create-admin", "--username", "carol", "--password", "short", env=admin_env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: BAD_USER_INPUT: password must be at least")


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = cli("export-schema", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == f"wrote {out}\n"
    sdl = out.read_text()
    assert "type Query" in sdl and "accountAuthLogin" in sdl


# The documentation's examples -------------------------------------------------------------------

DOC = REPO / "docs" / "CONFIGURATION.md"


def documented_commands() -> list[tuple[str, list[str], int]]:
    """(command, expected output lines, expected exit status) for each `$ ` line in a console block."""
    commands: list[tuple[str, list[str], int]] = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *expected = chunk.rstrip("\n").split("\n")
            status = 0
            if expected and (m := re.fullmatch(r"\[exit status (\d+)\]", expected[-1])):
                status = int(m.group(1))
                expected = expected[:-1]
            commands.append((command, expected, status))
    return commands


# One process start per documented command (a dozen, each bounded at 120 s below): 48 s
# serially on a loaded 2-core box, 88 s beside a second xdist worker.
@pytest.mark.timeout(300)
def test_documented_commands_work(tmp_path: Path) -> None:
    commands = documented_commands()
    assert len(commands) >= 8, "docs/CONFIGURATION.md lost its examples"
    shim = tmp_path / "bin" / "privchat-server"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m app "$@"\n')
    shim.chmod(0o755)
    env = clean_environ(PATH=f"{shim.parent}:{os.environ['PATH']}", PYTHONPATH=str(REPO))
    work = tmp_path / "work"
    work.mkdir()
    for command, expected, status in commands:
        result = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=120)
        output = (result.stdout + result.stderr).splitlines()
        assert result.returncode == status, (command, result.stdout, result.stderr)
        for line in expected:
            if line.endswith("..."):
                assert any(o.startswith(line[:-3]) for o in output), (command, line, output)
            else:
                assert line in output, (command, line, output)


@pytest.mark.usefixtures("restore_logging")
def test_storage_report_lists_sources_and_users(admin_env: dict[str, str]) -> None:
    from app import runtime
    from tests.support import files as media

    async def upload() -> int:
        settings = make_settings(Path(admin_env["PRIVCHAT_DATA_DIR"]), admin_env["DATABASE_URL"])
        services = runtime.build_services(settings)
        await runtime.start(services)
        try:
            ann = await factories.account(services, "ann")
            await media.upload(services, ann, media.pdf(), mime="application/pdf")
            return ann.user_id
        finally:
            await runtime.stop(services)

    user_id = asyncio.run(upload())
    result = cli("storage-report", env=admin_env)
    assert result.exit_code == 0, result.output
    size = len(media.pdf())
    assert f"source 0 (local): 1 stored contents, {size} bytes" in result.stdout
    assert f"user {user_id} on source 0: 1 files, {size} bytes" in result.stdout
