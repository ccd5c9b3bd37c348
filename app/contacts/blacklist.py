"""contact/blacklist/*: blocking users.

A block is silent towards the blocked user: every refusal it causes reads like a privacy
refusal (app/contacts/policy.py), and only the blocker's own devices get an update.
Blocking a friend keeps the friendship but makes it inert (no messages either way, no
presence); nothing changes on the friend's side, and the blocker may still remove them.
A pending request from the blocked user stays hidden (and cannot be accepted) until the
block is lifted; the blocker's own pending request to them is dropped silently.
"""

from __future__ import annotations

from app import paging
from app.contacts import rules, store
from app.contacts.users import existing_user
from app.contacts.views import BlockView, Page
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode
from app.principal import Principal
from app.sync.updates import UserUpdates


class BlacklistService:
    def __init__(self, *, db: Database, updates: UserUpdates) -> None:
        self.db = db
        self.updates = updates

    async def block(self, principal: Principal, *, user_id: int) -> BlockView:
        """Blacklist a user (idempotent)."""
        me = principal.user_id
        rules.check_other(me, user_id, "block")
        now = now_ms()
        async with self.db.transaction() as tx:
            s = tx.session
            user = await existing_user(s, user_id)
            if await store.insert_block(s, me, user_id, now):
                await store.cancel_pending(s, from_id=me, to_id=user_id, at=now)
                await self.updates.append(tx, me, "blacklist_changed", {"userId": user_id, "blocked": True})
            entry = await store.get_block(s, me, user_id)
        assert entry is not None
        return BlockView(entry, user)

    async def unblock(self, principal: Principal, *, user_id: int) -> None:
        me = principal.user_id
        rules.check_other(me, user_id, "unblock")
        async with self.db.transaction() as tx:
            if not await store.delete_block(tx.session, me, user_id):
                raise AppError(ErrorCode.NOT_FOUND, "this user is not in your blacklist")
            await self.updates.append(tx, me, "blacklist_changed", {"userId": user_id, "blocked": False})

    async def is_blocked(self, principal: Principal, *, user_id: int) -> bool:
        """Whether the caller blocked `user_id` (never whether `user_id` blocked the caller)."""
        async with self.db.read() as session:
            await existing_user(session, user_id)
            return await store.get_block(session, principal.user_id, user_id) is not None

    async def list_blocked(self, principal: Principal, *, cursor: str | None, limit: int) -> Page[BlockView]:
        paging.check_limit(limit)
        before = paging.decode_ints(cursor, 2)
        async with self.db.read() as session:
            rows = await store.blacklist_page(
                session, principal.user_id, before=(before[0], before[1]) if before else None, limit=limit + 1
            )
        items = [BlockView(e, u) for e, u in rows[:limit]]
        last = items[-1].entry if len(rows) > limit else None
        return Page(items, paging.encode(last.created_at, last.blocked_id) if last else None)
