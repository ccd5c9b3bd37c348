"""Counting what a request costs: database round trips and Redis commands.

Database: every statement SQLAlchemy sends (`before_cursor_execute`), every BEGIN,
COMMIT and ROLLBACK it issues (each one round trip on PostgreSQL), and every statement
of the driver path (`Database.statement_hooks`). Redis: every command the rate limiter
and the bus send from this process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from app.runtime import Services


@dataclass
class Trips:
    statements: list[str] = field(default_factory=list)
    transaction_ends: int = 0  # BEGIN / COMMIT / ROLLBACK sent

    @property
    def total(self) -> int:
        return len(self.statements) + self.transaction_ends


@contextlib.contextmanager
def database_round_trips(services: Services) -> Iterator[Trips]:
    trips = Trips()
    engine = services.db.engine.sync_engine

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        trips.statements.append(statement)

    def on_transaction_edge(conn: Any, *args: Any) -> None:
        trips.transaction_ends += 1

    hook = trips.statements.append
    event.listen(engine, "before_cursor_execute", on_statement)
    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, on_transaction_edge)
    services.db.statement_hooks.append(hook)
    try:
        yield trips
    finally:
        services.db.statement_hooks.remove(hook)
        event.remove(engine, "before_cursor_execute", on_statement)
        for name in ("begin", "commit", "rollback"):
            event.remove(engine, name, on_transaction_edge)
