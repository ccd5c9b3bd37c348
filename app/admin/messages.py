"""admin/message/*: look messages up, remove any message, export a channel's history."""

from __future__ import annotations

from app.admin import store
from app.contacts.views import Page
from app.db import Database
from app.errors import bad_input, not_found
from app.messaging.service import MessagingService
from app.messaging.tables import Message
from app.paging import check_limit, decode_ints, encode

MAX_EXPORT_PAGE = 1000


class AdminMessages:
    def __init__(self, *, db: Database, messaging: MessagingService) -> None:
        self.db = db
        self.messaging = messaging

    async def find(
        self,
        *,
        channel_id: int | None,
        sender_id: int | None,
        message_id: int | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Message]:
        """Newest first; at least one of the three filters."""
        check_limit(limit)
        if channel_id is None and sender_id is None and message_id is None:
            raise bad_input("give a channelId, a senderId or a messageId")
        after = decode_ints(cursor, 1)
        async with self.db.read() as session:
            rows = await store.messages_page(
                session,
                channel_id=channel_id,
                sender_id=sender_id,
                message_id=message_id,
                before_id=after[0] if after else None,
                limit=limit + 1,
            )
        items = rows[:limit]
        return Page(items, encode(items[-1].id or 0) if len(rows) > limit and items else None)

    async def export(self, channel_id: int, *, cursor: str | None, limit: int) -> Page[Message]:
        """A channel's whole history in pts order, removed messages included (as erased)."""
        check_limit(limit, MAX_EXPORT_PAGE)
        after = decode_ints(cursor, 1)
        async with self.db.read() as session:
            if not await store.channel_exists(session, channel_id):
                raise not_found("channel")
            rows = await store.channel_history(session, channel_id, after_pts=after[0] if after else 0, limit=limit + 1)
        items = rows[:limit]
        return Page(items, encode(items[-1].pts) if len(rows) > limit and items else None)

    async def delete(self, message_id: int, *, actor_id: int, reason: str | None) -> Message:
        return await self.messaging.moderate_delete(message_id, actor_id=actor_id, reason=reason)
