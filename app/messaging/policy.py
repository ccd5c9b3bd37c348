"""What the messaging core asks of the social graph (implemented in app/contacts)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Transaction


class MessagePolicy(Protocol):
    async def check_may_message(self, session: AsyncSession, sender_id: int, recipient_id: int) -> None:
        """Raise AppError (FORBIDDEN, neutral wording) unless sender may message recipient
        directly: not blocked either way, and the recipient's privacy allows it."""
        ...


class CardRecorder(Protocol):
    async def record_card(self, tx: Transaction, *, from_user_id: int, to_user_id: int, card_user_id: int) -> Any:
        """Remember that a contact card reached a user (so they may apply with source CARD)."""
        ...
