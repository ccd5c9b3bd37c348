"""The per-user update sequence: append inside a transaction, deliver after commit,
read back with `sync/get_updates(since)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import bad_input
from app.events import EventHub
from app.principal import Principal
from app.sync import store
from app.sync.tables import UserUpdate

MAX_UPDATES_PAGE = 500


@dataclass(frozen=True, slots=True)
class UpdatesPage:
    updates: list[UserUpdate]
    seq: int  # the user's current head
    has_more: bool


def update_message(update: UserUpdate) -> dict[str, Any]:
    """The live form of an update: what the event stream carries."""
    return {
        "type": "user_update",
        "userId": update.user_id,
        "seq": update.seq,
        "kind": update.kind,
        "payload": update.payload,
        "at": update.created_at,
    }


class UserUpdates:
    def __init__(self, *, db: Database, hub: EventHub) -> None:
        self.db = db
        self.hub = hub

    async def append(self, tx: Transaction, user_id: int, kind: str, payload: dict[str, Any]) -> int:
        """Store one update for `user_id` in `tx`; every device of the user gets it live
        after commit, and through `get_since` when it was offline."""
        seq = await store.next_user_seq(tx.session, user_id)
        update = UserUpdate(user_id=user_id, seq=seq, kind=kind, payload=payload, created_at=now_ms())
        await store.insert_update(
            tx.session, user_id=user_id, seq=seq, kind=kind, payload=payload, at=update.created_at
        )
        tx.after_commit(self.hub.deliver, [user_id], update_message(update))
        return seq

    async def append_many(self, tx: Transaction, items: list[tuple[int, str, dict[str, Any]]]) -> list[int]:
        """Several updates (user_id, kind, payload) in two statements, whatever their number,
        delivered after commit in one bus message; returns their seqs in order."""
        if not items:
            return []
        counts: dict[int, int] = {}
        for user_id, _, _ in items:
            counts[user_id] = counts.get(user_id, 0) + 1
        heads = await store.next_user_seqs(tx.session, counts)
        next_seq = {u: heads[u] - n + 1 for u, n in counts.items()}
        at = now_ms()
        updates = []
        for user_id, kind, payload in items:
            updates.append(
                UserUpdate(user_id=user_id, seq=next_seq[user_id], kind=kind, payload=payload, created_at=at)
            )
            next_seq[user_id] += 1
        await store.insert_updates(
            tx.session,
            [
                {"user_id": u.user_id, "seq": u.seq, "kind": u.kind, "payload": u.payload, "created_at": at}
                for u in updates
            ],
        )
        tx.after_commit(self.hub.deliver_each, [(u.user_id, update_message(u)) for u in updates])
        return [u.seq for u in updates]

    async def get_since(self, principal: Principal, *, since: int, limit: int) -> UpdatesPage:
        if since < 0:
            raise bad_input("since must be >= 0", field="since")
        if not 1 <= limit <= MAX_UPDATES_PAGE:
            raise bad_input(f"limit must be 1..{MAX_UPDATES_PAGE}", field="limit")
        if not self.db.is_sqlite:  # the sync hot path: one statement on the driver
            head, rows = await store.head_and_updates_since(self.db, principal.user_id, since, limit + 1)
        else:
            async with self.db.read() as session:
                head = await store.current_seq(session, principal.user_id)
                rows = list(await store.updates_since(session, principal.user_id, since, limit + 1))
        if since > head:
            raise bad_input(f"since ({since}) is beyond the current seq ({head})", field="since")
        return UpdatesPage(updates=rows[:limit], seq=head, has_more=len(rows) > limit)

    async def head(self, user_id: int) -> int:
        async with self.db.read() as session:
            return await store.current_seq(session, user_id)
