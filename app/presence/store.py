"""SQL for presence: last-seen times. No policy, no events."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import User
from app.db.upsert import insert_for
from app.presence.tables import UserPresence


async def last_seen(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    result = await session.execute(
        select(col(UserPresence.user_id), col(UserPresence.last_seen_at)).where(col(UserPresence.user_id).in_(ids))
    )
    return {int(u): int(at) for u, at in result.all()}


async def record_seen(session: AsyncSession, user_id: int, at: int) -> None:
    """Move the user's last-seen time forward to `at` (never back: processes race)."""
    stmt = insert_for(session, UserPresence).values(user_id=user_id, last_seen_at=at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"last_seen_at": stmt.excluded.last_seen_at},
            where=col(UserPresence.last_seen_at) < stmt.excluded.last_seen_at,
        )
    )


async def active_users(session: AsyncSession, user_ids: Iterable[int]) -> set[int]:
    """Those of `user_ids` that are registered and not disabled."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    result = await session.execute(select(col(User.id)).where(col(User.id).in_(ids), col(User.disabled).is_(False)))
    return {int(u) for u in result.scalars() if u is not None}
