"""Channel rules: direct channels between two users, membership queries."""

from __future__ import annotations

from app.channels import store
from app.channels.tables import Channel, ChannelMember
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import bad_input
from app.sync.updates import UserUpdates


class ChannelService:
    def __init__(self, *, db: Database, updates: UserUpdates) -> None:
        self.db = db
        self.updates = updates

    async def get_or_create_direct(self, tx: Transaction, a: int, b: int) -> tuple[Channel, bool]:
        """The one direct channel of users `a` and `b` (created if needed, race-free).
        Both users get a `channel_added` update when it is created."""
        if a == b:
            raise bad_input("a direct channel needs two different users", field="userId")
        key = store.direct_key(a, b)
        now = now_ms()
        created = await store.insert_direct(tx.session, key, now)
        channel = await store.get_direct(tx.session, key)
        assert channel is not None and channel.id is not None
        if created:
            for user_id in (a, b):
                await store.add_member(
                    tx.session, ChannelMember(channel_id=channel.id, user_id=user_id, role="member", joined_at=now)
                )
            for user_id in (a, b):
                await self.updates.append(tx, user_id, "channel_added", {"channelId": channel.id, "kind": "direct"})
        return channel, created
