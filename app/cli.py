"""`privchat-server`: serve (default), migrate, generate-config, validate-config,
show-config, create-admin, export-schema."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import Any

import click
from dotenv import load_dotenv

from app.config import ConfigError, Settings, load_settings
from app.config_file import render_example_config, render_masked
from app.logs import configure_logging
from app.security import InsecureSecretError


class CliState:
    def __init__(self, config_file: Path | None, overrides: dict[str, Any], verbose: int) -> None:
        self.config_file = config_file
        self.overrides = overrides
        self.verbose = verbose

    def settings(self) -> Settings:
        try:
            return load_settings(self.config_file, **self.overrides)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"config error: {problem}", err=True)
            sys.exit(2)


def _overrides(**flags: Any) -> dict[str, Any]:
    """CLI flags as nested settings (only the flags actually given)."""
    mapping = {
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
    out: dict[str, Any] = {}
    for flag, path in mapping.items():
        value = flags.get(flag)
        if value is None or (flag == "dev" and value is False):
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config-file",
    type=click.Path(path_type=Path),
    envvar="PRIVCHAT_CONFIG_FILE",
    help="TOML configuration file.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data directory (SQLite file, dev secret, local files). Env PRIVCHAT_DATA_DIR.",
)
@click.option("--host", default=None, help="Address to listen on (default 0.0.0.0).")
@click.option(
    "--http-port", type=int, default=None, help="Service port: health, metrics, files, admin (9083)."
)
@click.option("--ws-port", type=int, default=None, help="Client port: GraphQL HTTP/WS and /gate (9080).")
@click.option("--tcp-port", type=int, default=None, help="Native gateway TCP port (9001).")
@click.option("--quic-port", type=int, default=None, help="Native gateway QUIC (UDP) port (9001).")
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error", "critical"]), default=None
)
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
@click.option("--dev", is_flag=True, default=False, help="Development mode (generated JWT secret).")
@click.option("-v", "--verbose", count=True, help="More output (-v: info, -vv: debug).")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, verbose: int, **flags: Any) -> None:
    """PrivChat server. Without a command, serves."""
    load_dotenv(os.environ.get("PRIVCHAT_ENV_FILE", ".env"), override=False)
    overrides = _overrides(**flags)
    if verbose and "log_level" not in overrides.get("logging", {}):
        overrides.setdefault("logging", {})["level"] = "debug" if verbose > 1 else "info"
    ctx.obj = CliState(config_file, overrides, verbose)
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.pass_obj
def serve(state: CliState) -> None:
    """Start the server (GraphQL on --ws-port, service endpoints on --http-port)."""
    settings = state.settings()
    configure_logging(settings.logging.level, settings.logging.format)
    from app.main import serve as run

    try:
        asyncio.run(run(settings))
    except InsecureSecretError as exc:
        click.echo(f"refusing to start: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


@main.command()
@click.pass_obj
def migrate(state: CliState) -> None:
    """Apply database migrations up to the latest revision."""
    settings = state.settings()
    configure_logging(settings.logging.level, settings.logging.format)
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
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def generate_config(path: Path, force: bool) -> None:
    """Write a complete, commented example configuration to PATH."""
    if path.exists() and not force:
        click.echo(f"{path} exists; use --force to overwrite", err=True)
        sys.exit(1)
    path.write_text(render_example_config())
    click.echo(f"wrote {path}")


@main.command("validate-config")
@click.argument("path", type=click.Path(path_type=Path))
def validate_config(path: Path) -> None:
    """Check a configuration file (with the current environment); exit 2 on problems."""
    try:
        load_settings(path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"config error: {problem}", err=True)
        sys.exit(2)
    click.echo(f"{path}: ok")


@main.command("show-config")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml")
@click.pass_obj
def show_config(state: CliState, fmt: str) -> None:
    """Print the effective configuration, secrets masked."""
    click.echo(render_masked(state.settings(), fmt))


@main.command("create-admin")
@click.option("--username", required=True)
@click.option(
    "--password",
    envvar="PRIVCHAT_ADMIN_PASSWORD",
    default=None,
    help="Default: env PRIVCHAT_ADMIN_PASSWORD, else prompted.",
)
@click.option("--display-name", default=None)
@click.pass_obj
def create_admin(state: CliState, username: str, password: str | None, display_name: str | None) -> None:
    """Create an administrator account (or promote an existing user)."""
    settings = state.settings()
    if password is None:
        password = getpass.getpass("password: ")
    from app import runtime
    from app.errors import AppError

    async def run() -> int:
        services = runtime.build_services(settings)
        await runtime.start(services)
        try:
            user = await services.accounts.create_admin(
                username=username, password=password, display_name=display_name
            )
            return user.id or 0
        finally:
            await runtime.stop(services)

    try:
        user_id = asyncio.run(run())
    except AppError as exc:
        click.echo(f"error: {exc.code.value}: {exc.message}", err=True)
        sys.exit(1)
    except InsecureSecretError as exc:
        click.echo(f"refusing: {exc}", err=True)
        sys.exit(2)
    click.echo(f"admin {username} (id {user_id}) ready")


@main.command("export-schema")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None)
@click.pass_obj
def export_schema(state: CliState, output: Path | None) -> None:
    """Print (or write) the GraphQL SDL for client code generation."""
    from app.main import build_api

    sdl = build_api(state.settings()).schema.as_str()
    if output is None:
        click.echo(sdl)
    else:
        output.write_text(sdl + "\n")
        click.echo(f"wrote {output}")
