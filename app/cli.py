"""`privchat-server`: serve (default), migrate, check, generate-config, validate-config,
show-config, create-admin, storage-report, export-schema.

Exit codes: 0 success, 1 a command failed (e.g. a refused password), 2 bad usage or
configuration, including a refused JWT secret.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn

import click
from dotenv import load_dotenv

from app.config import ConfigError, Settings, load_settings
from app.config_file import render_example_config, render_masked
from app.logs import configure_logging
from app.security import InsecureSecretError

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_CONFIG = 2

# CLI flag -> key path in Settings.
FLAG_KEYS: dict[str, tuple[str, ...]] = {
    "data_dir": ("data_dir",),
    "host": ("host",),
    "http_port": ("http", "port"),
    "ws_port": ("http", "ws_port"),
    "tcp_port": ("gateway", "tcp_port"),
    "quic_port": ("gateway", "quic_port"),
    "log_level": ("logging", "level"),
    "log_format": ("logging", "format"),
    "dev": ("dev",),
}


class CliState:
    def __init__(self, config_file: Path | None, overrides: dict[str, Any]) -> None:
        self.config_file = config_file
        self.overrides = overrides
        self.workers: str | None = None  # --workers given before the command

    def command_logging(self, settings: Settings) -> None:
        """One-shot commands log warnings only, unless -v or --log-level asks for more."""
        level = self.overrides.get("logging", {}).get("level", "warning")
        configure_logging(level, settings.logging.format)

    def settings(self, config_file: Path | None = None) -> Settings:
        try:
            return load_settings(config_file or self.config_file, **self.overrides)
        except ConfigError as exc:
            _config_failure(exc)


def _config_failure(exc: ConfigError) -> NoReturn:
    for problem in exc.problems:
        click.echo(f"config error: {problem}", err=True)
    sys.exit(EXIT_CONFIG)


def _overrides(verbose: int, **flags: Any) -> dict[str, Any]:
    """The flags actually given, as nested settings (so they override env and file)."""
    out: dict[str, Any] = {}
    if verbose and flags.get("log_level") is None:
        flags["log_level"] = "debug" if verbose > 1 else "info"
    for flag, path in FLAG_KEYS.items():
        value = flags.get(flag)
        if value is None or (flag == "dev" and value is False):
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


class _GlobalFlagsAnywhere(click.Group):
    """Global flags are accepted after the command too (`privchat-server serve --dev --ws-port 9080`,
    as deploy scripts write it): they are moved in front of the command before parsing."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoist(ctx, args))

    def _hoist(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value: dict[str, bool] = {}
        for param in self.params:
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    takes_value[name] = not (param.is_flag or param.count)
        before: list[str] = []
        i = 0
        while i < len(args):  # up to the command name
            arg = args[i]
            if arg == "--" or not arg.startswith("-"):
                break
            before.append(arg)
            if takes_value.get(arg, False) and i + 1 < len(args):
                before.append(args[i + 1])
                i += 1
            i += 1
        if i >= len(args) or args[i] == "--" or args[i] not in self.commands:
            return args
        command = self.commands[args[i]]
        own = {name for p in command.params for name in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
        hoisted: list[str] = []
        rest: list[str] = [args[i]]
        j = i + 1
        while j < len(args):
            arg = args[j]
            if arg == "--":
                rest += args[j:]
                break
            name = arg.split("=", 1)[0]
            if re.fullmatch(r"-v+", arg) and "-v" in takes_value and "-v" not in own:  # -vv
                hoisted.append(arg)
            elif name in takes_value and name not in own:
                hoisted.append(arg)
                if takes_value[name] and "=" not in arg and j + 1 < len(args):
                    hoisted.append(args[j + 1])
                    j += 1
            else:
                rest.append(arg)
            j += 1
        return before + hoisted + rest


@click.group(
    cls=_GlobalFlagsAnywhere,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--config-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="TOML configuration file (env PRIVCHAT_CONFIG_FILE, also from .env).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory: SQLite file, dev JWT secret, local files (env PRIVCHAT_DATA_DIR; default ./data).",
)
@click.option("--host", default=None, help="Address to listen on (default 0.0.0.0).")
@click.option("--http-port", type=int, default=None, help="Service port: health, metrics, files, admin (9083).")
@click.option("--ws-port", type=int, default=None, help="Client port: GraphQL HTTP/WS and /gate (9080).")
@click.option("--tcp-port", type=int, default=None, help="Native gateway TCP port (9001).")
@click.option("--quic-port", type=int, default=None, help="Native gateway QUIC (UDP) port (9001).")
@click.option(
    "--log-level",
    type=click.Choice(["trace", "debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default=None,
    help="Log level (default info; env PRIVCHAT_LOG_LEVEL); trace adds every SQL statement.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "pretty", "compact", "json"], case_sensitive=False),
    default=None,
    help="text (= pretty), compact, or json: one JSON object per line (default text; env PRIVCHAT_LOG_FORMAT).",
)
@click.option("--dev", is_flag=True, default=False, help="Development mode: generate a JWT secret if none is set.")
@click.option("--workers", default=None, metavar="N|auto", help="serve: processes sharing the ports (serve --help).")
@click.option("-v", "--verbose", count=True, help="Log level info (-v) or debug (-vv), unless --log-level is given.")
@click.version_option(package_name="privchat-server", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, verbose: int, **flags: Any) -> None:
    """PrivChat server. Without a command, serves.

    Settings come from, highest priority first: these flags, PRIVCHAT_* environment
    variables, .env (PRIVCHAT_ENV_FILE to use another file), the --config-file, defaults.
    """
    # Real environment variables win over .env (override=False).
    load_dotenv(os.environ.get("PRIVCHAT_ENV_FILE", ".env"), override=False)
    if config_file is None and os.environ.get("PRIVCHAT_CONFIG_FILE"):  # read after .env on purpose
        config_file = Path(os.environ["PRIVCHAT_CONFIG_FILE"])
    workers = flags.pop("workers")
    ctx.obj = CliState(config_file, _overrides(verbose, **flags))
    ctx.obj.workers = workers
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Serve on uvloop where it is installed (libuv's event loop, the one the bench's raw
    database loop runs on: less work per callback, timer and socket write than asyncio's
    own), else on asyncio's (also with PRIVCHAT_EVENT_LOOP=asyncio)."""
    if os.environ.get("PRIVCHAT_EVENT_LOOP", "auto") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


@main.command()
@click.option(
    "--workers",
    default=None,
    metavar="N|auto",
    help="Server processes sharing the ports (default 1; auto: one per core). N > 1 needs PostgreSQL and Redis.",
)
@click.pass_obj
def serve(state: CliState, workers: str | None = None) -> None:
    """Start the server (GraphQL on --ws-port, service endpoints on --http-port).

    Stops on SIGTERM or SIGINT: stops accepting, finishes in-flight requests, exits 0.
    """
    from app.workers import WorkersError, check_workers, parse_workers, supervise, worker_index

    settings = state.settings()
    configure_logging(settings.logging.level, settings.logging.format)
    from app.main import ListenError, prepare_workers
    from app.main import serve as run

    is_worker = worker_index() is not None
    if not is_worker:
        try:
            count = parse_workers(workers or state.workers or "1")
            check_workers(settings, count)
        except WorkersError as exc:
            click.echo(f"refusing to start: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        if count > 1:
            try:
                prepare_workers(settings)
            except InsecureSecretError as exc:
                click.echo(f"refusing to start: {exc}", err=True)
                sys.exit(EXIT_CONFIG)
            sys.exit(supervise(settings, count))
    try:
        run_event_loop(run(settings, reuse_port=is_worker))
    except ListenError as exc:
        log.error("%s", exc)
        sys.exit(EXIT_FAILED)
    except InsecureSecretError as exc:
        click.echo(f"refusing to start: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        sys.exit(130)
    except SystemExit as exc:  # e.g. a port that could not be bound: said in the log's format
        if isinstance(exc.code, str):
            log.error("%s", exc.code)
            sys.exit(EXIT_FAILED)
        raise
    except Exception:
        log.exception("the server stopped on an error")
        sys.exit(EXIT_FAILED)


@main.command()
@click.pass_obj
def migrate(state: CliState) -> None:
    """Apply database migrations up to the latest revision and print it."""
    settings = state.settings()
    state.command_logging(settings)
    from app.db import Database
    from app.db.migrate import current_revision, upgrade_to_head

    async def run() -> str | None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.database_url)
        try:
            await upgrade_to_head(db)
            return await current_revision(db)
        finally:
            await db.dispose()

    click.echo(f"database at revision {asyncio.run(run())}")


@main.command("generate-config")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def generate_config(path: Path, force: bool) -> None:
    """Write a complete, commented example configuration to PATH ("-": standard output)."""
    text = render_example_config()
    if str(path) == "-":
        click.echo(text, nl=False)
        return
    if path.exists() and not force:
        click.echo(f"{path} exists; use --force to overwrite", err=True)
        sys.exit(EXIT_FAILED)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


@main.command("validate-config")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def validate_config(state: CliState, path: Path) -> None:
    """Check configuration file PATH together with the environment and flags; exit 2 on problems."""
    state.settings(path)
    click.echo(f"{path}: ok")


@main.command("show-config")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", help="Output format.")
@click.pass_obj
def show_config(state: CliState, fmt: str) -> None:
    """Print the effective configuration from all sources, secrets masked."""
    click.echo(render_masked(state.settings(), fmt))


@main.command("create-admin")
@click.option("--username", required=True, help="Account to create, or existing user to promote.")
@click.option(
    "--password",
    envvar="PRIVCHAT_ADMIN_PASSWORD",
    default=None,
    help="Password of a new account (env PRIVCHAT_ADMIN_PASSWORD; else prompted). "
    "An existing user keeps their password.",
)
@click.option("--display-name", default=None, help="Display name of a new account.")
@click.pass_obj
def create_admin(state: CliState, username: str, password: str | None, display_name: str | None) -> None:
    """Create an administrator account, or make an existing user an administrator."""
    settings = state.settings()
    state.command_logging(settings)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    from app import runtime
    from app.errors import AppError

    async def run() -> int:
        services = runtime.build_services(settings)
        await runtime.start(services)
        try:
            user = await services.accounts.create_admin(username=username, password=password, display_name=display_name)
            return user.id or 0
        finally:
            await runtime.stop(services)

    try:
        user_id = asyncio.run(run())
    except AppError as exc:
        click.echo(f"error: {exc.code.value}: {exc.message}", err=True)
        sys.exit(EXIT_FAILED)
    except InsecureSecretError as exc:
        click.echo(f"refusing: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(f"admin {username} (id {user_id}) ready")


@main.command()
@click.pass_obj
def check(state: CliState) -> None:
    """Check the configuration, database (and its migrations), Redis and storage; exit 1 on a problem."""
    settings = state.settings()
    state.command_logging(settings)
    from app.checks import run_checks

    click.echo(f"config: ok ({state.config_file or 'no config file'}, environment and flags)")
    failed = False
    for result in asyncio.run(run_checks(settings)):
        click.echo(f"{result.name}: {'ok' if result.ok else 'FAILED'}: {result.detail}")
        failed = failed or not result.ok
    if failed:
        sys.exit(EXIT_FAILED)


@main.command("storage-report")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Users to list.")
@click.pass_obj
def storage_report(state: CliState, limit: int) -> None:
    """Print file storage use per source and per user (largest first)."""
    settings = state.settings()
    state.command_logging(settings)
    from app import runtime

    async def run() -> list[str]:
        services = runtime.build_services(settings)
        await runtime.start(services)
        try:
            report = await services.file_lifecycle.report(limit=limit)
        finally:
            await runtime.stop(services)
        lines = [f"source {s.source_id} ({s.kind}): {s.blobs} stored contents, {s.bytes} bytes" for s in report.sources]
        lines.append(f"uploads in progress: {report.pending_uploads} ({report.pending_bytes} bytes declared)")
        lines += [f"user {u.user_id} on source {u.source_id}: {u.files} files, {u.bytes} bytes" for u in report.users]
        return lines

    for line in asyncio.run(run()):
        click.echo(line)


@main.command("export-schema")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File to write.")
@click.pass_obj
def export_schema(state: CliState, output: Path | None) -> None:
    """Print (or write) the GraphQL SDL for client code generation."""
    from app.main import build_api

    sdl = build_api(state.settings()).schema.as_str()
    if output is None:
        click.echo(sdl)
    else:
        output.write_text(sdl + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")
