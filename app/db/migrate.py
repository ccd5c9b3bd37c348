"""Alembic, driven from code: one history for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy.engine import Connection

from alembic import command
from app.db.engine import Database

ROOT = Path(__file__).resolve().parents[2]


class MigrationsMissing(RuntimeError):
    """The alembic/ directory is not next to the package (a wheel install carries no migrations)."""


def alembic_config(connection: Connection | None = None) -> Config:
    if not (ROOT / "alembic" / "versions").is_dir():
        raise MigrationsMissing(
            f"database migrations not found in {ROOT / 'alembic'}: install PrivChat from its source tree "
            "(pip install -e, as the Dockerfile does)"
        )
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade_to_head(db: Database) -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)
