"""Alembic environment. Migrations run on a connection handed in by app/db/migrate.py,
or, from the alembic CLI, on DATABASE_URL (default: the embedded SQLite file)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection

from alembic import context
from app.db.metadata import include_name, metadata

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_from_cli() -> None:
    from app.config import load_settings
    from app.db.engine import Database

    db = Database(load_settings().database_url)

    async def go() -> None:
        async with db.engine.begin() as conn:
            await conn.run_sync(run_on)
        await db.dispose()

    asyncio.run(go())


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    run_from_cli()
