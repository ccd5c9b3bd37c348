"""Column helpers shared by all tables."""

from __future__ import annotations

import time

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

# int64 ids everywhere; SQLite only auto-increments an "INTEGER PRIMARY KEY".
BigIntId = BigInteger().with_variant(Integer(), "sqlite")
# Structured payloads: JSONB on PostgreSQL, JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch: the one timestamp unit stored."""
    return time.time_ns() // 1_000_000
