"""Imports every table module so `SQLModel.metadata` is complete (alembic, tests)."""

from sqlmodel import SQLModel

import app.accounts.tables
import app.admin.tables
import app.channels.tables
import app.contacts.tables
import app.devices.tables
import app.files.tables
import app.groups.tables
import app.messaging.tables
import app.presence.tables
import app.privacy.tables
import app.qrcodes.tables
import app.stickers.tables
import app.sync.tables  # noqa: F401

metadata = SQLModel.metadata

# Made by migrations only, since no model can describe them: the message search index of
# each dialect (SQLite FTS5 table and its shadow tables; PostgreSQL trigram index).
UNMODELLED_PREFIXES = ("messages_fts", "ix_messages_search_trgm")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For alembic's model comparison: leave the unmodelled objects alone."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


__all__ = ["include_name", "metadata"]
