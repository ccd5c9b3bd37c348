"""What the messaging rules ask of other domains (implemented in app/contacts and app/groups)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.tables import Channel, ChannelMember
from app.db import Transaction


class CardRecorder(Protocol):
    async def check_and_record(
        self, tx: Transaction, *, sharer_id: int, card_user_id: int, recipients: list[int]
    ) -> None:
        """Apply the card-sharing rule (the one `account/user/share_card` applies: NOT_FOUND
        when the sender may not share this user's card), then remember that the card reached
        each recipient (so they may apply with source CARD)."""
        ...


class ModerationRules(Protocol):
    """The group roles' say in message moderation (app/groups/sending.py)."""

    def may_revoke_others(self, channel: Channel, member: ChannelMember) -> bool:
        """May this member recall other members' messages, at any time?"""
        ...

    def may_pin(self, channel: Channel, member: ChannelMember) -> bool:
        """May this member pin and unpin messages?"""
        ...

    def sees_read_receipts_of_others(self, channel: Channel, member: ChannelMember) -> bool:
        """May this member see who read others' messages?"""
        ...


class AttachmentRules(Protocol):
    """What sending and recalling ask of files and stickers (app/files/attachments.py).
    Only messages of `kinds` pay for it: text never does."""

    kinds: frozenset[str]

    async def check_send(
        self, session: AsyncSession, sender_id: int, kind: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        """Raise AppError unless the sender may send this content; the content to store
        (completed with the server's facts: dimensions, thumbnail, size, type)."""
        ...

    async def detach(self, session: AsyncSession, message_id: int) -> None:
        """A message was revoked: its files are no longer reachable through it."""
        ...
