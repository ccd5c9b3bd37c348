"""SQL for device sessions and refresh tokens. No policy, no events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import User
from app.db import Database
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


@dataclass(frozen=True, slots=True)
class SessionCheck:
    """What authenticating a call needs to know of its device session and user."""

    user_id: int
    device_id: str
    revoked_at: int | None
    revoke_reason: str | None
    is_admin: bool
    disabled: bool


# The sessions of concurrent calls, read in one statement (app/db/batch.py), each with its
# position in the batch; a session not found has no row. Sessions not touched for a while
# get their last-activity time moved to now in the same statement.
CHECK_SESSIONS_SQL = """
WITH asked AS (
    SELECT * FROM unnest($1::bigint[]) WITH ORDINALITY AS a(id, n)
), touched AS (
    UPDATE device_sessions SET last_active_at = $2
    WHERE id = ANY ($1::bigint[]) AND revoked_at IS NULL AND last_active_at < $3
    RETURNING id
)
SELECT asked.n, s.user_id, s.device_id, s.revoked_at, s.revoke_reason, u.is_admin, u.disabled
FROM asked JOIN device_sessions s ON s.id = asked.id JOIN users u ON u.id = s.user_id
"""


async def check_sessions(
    db: Database, session_ids: Sequence[int], *, now: int, touch_before: int
) -> list[SessionCheck | None]:
    """The sessions with their users, read fresh (so a revocation is effective on the very
    next request, on every node), and their last-activity time moved to `now` where older
    than `touch_before`. One statement, one round trip on PostgreSQL, for all of them."""
    if not db.is_sqlite:
        found: list[SessionCheck | None] = [None] * len(session_ids)
        for n, *row in await db.fetch(CHECK_SESSIONS_SQL, list(session_ids), now, touch_before):
            found[n - 1] = SessionCheck(*row)
        return found
    return [await _check_session_sqlite(db, i, now=now, touch_before=touch_before) for i in session_ids]


async def _check_session_sqlite(db: Database, session_id: int, *, now: int, touch_before: int) -> SessionCheck | None:
    async with db.read() as session:
        found = await get_live_session_with_user(session, session_id)
    if found is None:
        return None
    device, user = found
    if device.revoked_at is None and device.last_active_at < touch_before:
        async with db.transaction() as tx:
            await touch_session(tx.session, session_id, now)
    return SessionCheck(
        user_id=device.user_id,
        device_id=device.device_id,
        revoked_at=device.revoked_at,
        revoke_reason=device.revoke_reason,
        is_admin=user.is_admin,
        disabled=user.disabled,
    )


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
