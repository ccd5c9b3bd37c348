"""One alembic history for SQLite and PostgreSQL: it upgrades, downgrades, re-upgrades,
and matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from app.config import normalise_database_url
from app.db import Database
from app.db.metadata import include_name, metadata
from app.db.migrate import alembic_config, current_revision, upgrade_to_head
from tests.support.backends import TestDatabase


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "two migrations claim the same parent: add a merge or renumber"


async def test_upgrade_downgrade_upgrade_and_models_match(test_db: TestDatabase) -> None:
    db = Database(normalise_database_url(test_db.url))
    try:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert await current_revision(db) == head  # the test template is migrated

        def down(connection: object) -> None:
            command.downgrade(alembic_config(connection), "base")  # type: ignore[arg-type]

        async with db.engine.begin() as conn:
            await conn.run_sync(down)
        assert await current_revision(db) is None
        await upgrade_to_head(db)
        assert await current_revision(db) == head

        def diff(connection: object) -> list:
            context = MigrationContext.configure(connection, opts={"include_name": include_name})  # type: ignore[arg-type]
            return compare_metadata(context, metadata)

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await db.dispose()
