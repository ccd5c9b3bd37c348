"""What the messaging core asks of the social graph (implemented in app/contacts)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class MessagePolicy(Protocol):
    async def check_may_message(self, session: AsyncSession, sender_id: int, recipient_id: int) -> None:
        """Raise AppError (FORBIDDEN, neutral wording) unless sender may message recipient
        directly: not blocked either way, and the recipient's privacy allows it."""
        ...
