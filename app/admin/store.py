"""Admin SQL: audit rows, password resets, statistics. No policy, no events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import User
from app.admin.tables import AdminAudit, PasswordReset
from app.channels.tables import Channel
from app.devices.tables import DeviceSession
from app.messaging.tables import Message


async def insert_audit(session: AsyncSession, entry: AdminAudit) -> None:
    session.add(entry)
    await session.flush()


async def audit_page(
    session: AsyncSession,
    *,
    actor_user_id: int | None,
    route: str | None,
    target: str | None,
    since_ms: int | None,
    until_ms: int | None,
    before_id: int | None,
    limit: int,
) -> Sequence[AdminAudit]:
    """Newest first."""
    stmt = select(AdminAudit)
    if actor_user_id is not None:
        stmt = stmt.where(AdminAudit.actor_user_id == actor_user_id)  # type: ignore[arg-type]
    if route is not None:
        stmt = stmt.where(AdminAudit.route == route)  # type: ignore[arg-type]
    if target is not None:
        stmt = stmt.where(AdminAudit.target == target)  # type: ignore[arg-type]
    if since_ms is not None:
        stmt = stmt.where(AdminAudit.at >= since_ms)  # type: ignore[arg-type]
    if until_ms is not None:
        stmt = stmt.where(AdminAudit.at < until_ms)  # type: ignore[arg-type]
    if before_id is not None:
        stmt = stmt.where(AdminAudit.id < before_id)  # type: ignore[arg-type,operator]
    stmt = stmt.order_by(AdminAudit.id.desc()).limit(limit)  # type: ignore[union-attr]
    return (await session.execute(stmt)).scalars().all()


async def drop_password_resets(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(PasswordReset).where(PasswordReset.user_id == user_id))  # type: ignore[arg-type]


async def count_users(session: AsyncSession) -> tuple[int, int, int]:
    """(accounts not deleted, of which disabled, deleted)."""
    row = (
        await session.execute(
            select(
                func.count().filter(col(User.deleted_at).is_(None)),
                func.count().filter(col(User.deleted_at).is_(None), col(User.disabled)),
                func.count().filter(col(User.deleted_at).is_not(None)),
            ).select_from(User)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def count_active_users(session: AsyncSession, since_ms: int) -> int:
    """Users with a device session active since then (activity is recorded every few minutes)."""
    count = await session.scalar(
        select(func.count(func.distinct(DeviceSession.user_id))).where(col(DeviceSession.last_active_at) >= since_ms)
    )
    return int(count or 0)


async def count_messages(session: AsyncSession, since_ms: int, until_ms: int) -> int:
    """Messages sent in [since, until), system lines excluded."""
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(col(Message.created_at) >= since_ms, col(Message.created_at) < until_ms, col(Message.type) != "system")
    )
    return int(count or 0)


async def count_groups(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Channel).where(col(Channel.kind) == "group", col(Channel.deleted_at).is_(None))
    )
    return int(count or 0)


async def messages_page(
    session: AsyncSession,
    *,
    channel_id: int | None,
    sender_id: int | None,
    message_id: int | None,
    before_id: int | None,
    limit: int,
) -> list[Message]:
    """Newest first."""
    stmt = select(Message)
    if channel_id is not None:
        stmt = stmt.where(col(Message.channel_id) == channel_id)
    if sender_id is not None:
        stmt = stmt.where(col(Message.sender_id) == sender_id)
    if message_id is not None:
        stmt = stmt.where(col(Message.id) == message_id)
    if before_id is not None:
        stmt = stmt.where(col(Message.id) < before_id)
    rows = await session.execute(stmt.order_by(col(Message.id).desc()).limit(limit))
    return list(rows.scalars().all())


async def channel_history(session: AsyncSession, channel_id: int, *, after_pts: int, limit: int) -> list[Message]:
    """A channel's messages in pts order (export)."""
    rows = await session.execute(
        select(Message)
        .where(col(Message.channel_id) == channel_id, col(Message.pts) > after_pts)
        .order_by(col(Message.pts))
        .limit(limit)
    )
    return list(rows.scalars().all())


async def channel_exists(session: AsyncSession, channel_id: int) -> bool:
    return await session.get(Channel, channel_id) is not None
