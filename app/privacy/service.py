"""account/privacy/get|update. The decisions made from these settings live in
app/contacts/policy.py."""

from __future__ import annotations

from app.db import Database
from app.db.types import now_ms
from app.principal import Principal
from app.privacy import store
from app.privacy.settings import PrivacyChanges, PrivacySettings, check_changes
from app.sync.updates import UserUpdates


class PrivacyService:
    def __init__(self, *, db: Database, updates: UserUpdates) -> None:
        self.db = db
        self.updates = updates

    async def get(self, principal: Principal) -> PrivacySettings:
        async with self.db.read() as session:
            return await store.get(session, principal.user_id)

    async def update(self, principal: Principal, changes: PrivacyChanges) -> PrivacySettings:
        """Change some settings; the user's other devices get a `privacy_changed` update."""
        values = check_changes(changes)
        async with self.db.transaction() as tx:
            before = await store.get(tx.session, principal.user_id)
            updated = await store.change(tx.session, principal.user_id, values, now_ms())
            if updated != before:
                await self.updates.append(tx, principal.user_id, "privacy_changed", updated.as_dict())
        return updated
