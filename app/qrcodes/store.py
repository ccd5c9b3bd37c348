"""SQL for user QR codes. No policy, no events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.upsert import insert_for
from app.qrcodes.tables import UserQrCode


async def get_for_user(session: AsyncSession, user_id: int) -> UserQrCode | None:
    result = await session.execute(
        select(UserQrCode).where(col(UserQrCode.user_id) == user_id).execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_by_token(session: AsyncSession, token: str) -> UserQrCode | None:
    result = await session.execute(select(UserQrCode).where(col(UserQrCode.token) == token))
    return result.scalar_one_or_none()


async def insert_if_missing(session: AsyncSession, code: UserQrCode) -> None:
    """Create the user's code unless a concurrent caller already did."""
    stmt = (
        insert_for(session, UserQrCode)
        .values(
            user_id=code.user_id,
            token=code.token,
            created_at=code.created_at,
            expires_at=code.expires_at,
            ttl_seconds=code.ttl_seconds,
        )
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    await session.execute(stmt)


async def replace(session: AsyncSession, code: UserQrCode, *, only_token: str | None = None) -> bool:
    """Put `code` in place of the user's code; with `only_token`, only if the current
    token is still that one (so two devices renewing an expired code agree on one)."""
    values = {
        "token": code.token,
        "created_at": code.created_at,
        "expires_at": code.expires_at,
        "ttl_seconds": code.ttl_seconds,
    }
    stmt = insert_for(session, UserQrCode).values(user_id=code.user_id, **values)
    where = None if only_token is None else UserQrCode.__table__.c.token == only_token  # type: ignore[attr-defined]
    result = await session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values, where=where))
    return bool(getattr(result, "rowcount", 0))
