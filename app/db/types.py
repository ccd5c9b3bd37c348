"""Column helpers shared by all tables."""

from __future__ import annotations

import time

from sqlalchemy import BigInteger, Integer

# int64 ids everywhere; SQLite only auto-increments an "INTEGER PRIMARY KEY".
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch: the one timestamp unit stored."""
    return time.time_ns() // 1_000_000
