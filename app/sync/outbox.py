"""User updates collected during a transaction and appended at its end, all at once.

Appending takes a row lock on each recipient's sequence until commit; `append_many`
takes those locks in one statement, in one global order (ascending user id), which is
what keeps two transactions that notify the same two users from deadlocking each other
on PostgreSQL. Two statements whatever the number of updates (a 500-member group
dismissal included).
"""

from __future__ import annotations

from typing import Any

from app.db import Transaction
from app.sync.updates import UserUpdates


class Outbox:
    def __init__(self) -> None:
        self._items: list[tuple[int, str, dict[str, Any]]] = []

    def add(self, user_id: int, kind: str, payload: dict[str, Any]) -> None:
        self._items.append((user_id, kind, payload))

    async def flush(self, updates: UserUpdates, tx: Transaction) -> None:
        items, self._items = self._items, []
        await updates.append_many(tx, items)
