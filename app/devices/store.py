"""SQL for device sessions and refresh tokens. No policy, no events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import User
from app.devices.tables import DeviceSession, RefreshToken


async def insert_session(session: AsyncSession, row: DeviceSession) -> DeviceSession:
    session.add(row)
    await session.flush()
    return row


async def get_session(session: AsyncSession, session_id: int) -> DeviceSession | None:
    return await session.get(DeviceSession, session_id)


async def get_live_session_with_user(session: AsyncSession, session_id: int) -> tuple[DeviceSession, User] | None:
    result = await session.execute(
        select(DeviceSession, User)
        .join(User, col(User.id) == col(DeviceSession.user_id))
        .where(col(DeviceSession.id) == session_id)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def live_sessions(session: AsyncSession, user_id: int) -> Sequence[DeviceSession]:
    result = await session.execute(
        select(DeviceSession)
        .where(col(DeviceSession.user_id) == user_id, col(DeviceSession.revoked_at).is_(None))
        .order_by(col(DeviceSession.last_active_at).desc())
    )
    return result.scalars().all()


async def revoke_sessions(
    session: AsyncSession, user_id: int, session_ids: Sequence[int], *, reason: str, at: int
) -> list[tuple[int, str]]:
    """Revoke the given live sessions of a user; returns (session id, device id) of those revoked."""
    if not session_ids:
        return []
    result = await session.execute(
        update(DeviceSession)
        .where(
            col(DeviceSession.user_id) == user_id,
            col(DeviceSession.id).in_(session_ids),
            col(DeviceSession.revoked_at).is_(None),
        )
        .values(revoked_at=at, revoke_reason=reason)
        .returning(col(DeviceSession.id), col(DeviceSession.device_id))
    )
    return [(int(r[0] or 0), str(r[1])) for r in result.all()]


async def touch_session(session: AsyncSession, session_id: int, at: int) -> None:
    await session.execute(update(DeviceSession).where(col(DeviceSession.id) == session_id).values(last_active_at=at))


async def rename_session(session: AsyncSession, session_id: int, name: str) -> None:
    await session.execute(update(DeviceSession).where(col(DeviceSession.id) == session_id).values(device_name=name))


async def insert_refresh_token(session: AsyncSession, row: RefreshToken) -> None:
    session.add(row)
    await session.flush()


async def get_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.get(RefreshToken, token_hash)


async def mark_refresh_rotated(session: AsyncSession, token_hash: str, at: int) -> bool:
    """Atomically claim a refresh token; False if someone already rotated it."""
    result = await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.token_hash) == token_hash, col(RefreshToken.rotated_at).is_(None))
        .values(rotated_at=at)
    )
    return (getattr(result, "rowcount", 0) or 0) == 1
