"""Dialect-aware INSERT ... ON CONFLICT, the same on PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An `insert()` that knows `on_conflict_do_update/nothing` for the session's dialect."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
