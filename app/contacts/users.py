"""Looking up the other user of a social action: a missing user is NOT_FOUND."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import store as account_store
from app.accounts.tables import User
from app.errors import not_found


async def existing_user(session: AsyncSession, user_id: int) -> User:
    user = await account_store.get_user(session, user_id)
    if user is None:
        raise not_found("user")
    return user


async def active_user(session: AsyncSession, user_id: int) -> User:
    """A user who may take part in new social actions (not disabled)."""
    user = await account_store.get_user(session, user_id)
    if user is None or user.disabled:
        raise not_found("user")
    return user
