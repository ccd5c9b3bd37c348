"""User updates collected during a transaction and appended at its end, in user id order.

Appending takes a row lock on each recipient's sequence until commit; taking those locks
in one global order (ascending user id) is what keeps two transactions that notify the
same two users from deadlocking each other on PostgreSQL.
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
        for user_id, kind, payload in sorted(self._items, key=lambda item: item[0]):  # stable: per-user order kept
            await updates.append(tx, user_id, kind, payload)
        self._items.clear()
