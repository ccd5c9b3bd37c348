"""Database access: async engine (SQLite WAL or asyncpg) and transactions with after-commit hooks."""

from app.db.engine import Database, Transaction

__all__ = ["Database", "Transaction"]
