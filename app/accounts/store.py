"""SQL for users and the login log. No policy, no events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import LoginLog, User
from app.db.types import now_ms
from app.errors import AppError, ErrorCode


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def lock_user(session: AsyncSession, user_id: int) -> User | None:
    """The user's row, locked until the transaction ends (changes to one profile queue)."""
    return await session.get(User, user_id, with_for_update=True)


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(col(User.username_key) == username.lower()))
    return result.scalar_one_or_none()


async def insert_user(
    session: AsyncSession,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    email: str | None = None,
    phone: str | None = None,
    is_admin: bool = False,
) -> User:
    now = now_ms()
    user = User(
        username=username,
        username_key=username.lower(),
        display_name=display_name,
        password_hash=password_hash,
        email=email,
        phone=phone,
        is_admin=is_admin,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AppError(ErrorCode.CONFLICT, "username, email or phone already taken") from None
    return user


async def update_user(session: AsyncSession, user_id: int, values: dict[str, object]) -> None:
    if not values:
        return
    try:
        async with session.begin_nested():
            await session.execute(update(User).where(col(User.id) == user_id).values(**values, updated_at=now_ms()))
    except IntegrityError:
        raise AppError(ErrorCode.CONFLICT, "email or phone already taken") from None


async def insert_login_log(session: AsyncSession, entry: LoginLog) -> None:
    session.add(entry)
    await session.flush()


async def list_login_log(session: AsyncSession, user_id: int, *, limit: int) -> Sequence[LoginLog]:
    result = await session.execute(
        select(LoginLog)
        .where(col(LoginLog.user_id) == user_id)
        .order_by(col(LoginLog.at).desc(), col(LoginLog.id).desc())
        .limit(limit)
    )
    return result.scalars().all()


async def count_users(session: AsyncSession) -> int:
    result = await session.execute(select(func.count()).select_from(User))
    return int(result.scalar_one())


async def count_admins(session: AsyncSession, *, other_than: int) -> int:
    """Enabled administrators other than `other_than`."""
    count = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(col(User.is_admin), col(User.id) != other_than, col(User.disabled).is_(False))
    )
    return int(count or 0)


async def erase_login_details(session: AsyncSession, user_id: int) -> None:
    """Account deletion: the login log keeps times and outcomes, not where from."""
    await session.execute(
        update(LoginLog).where(col(LoginLog.user_id) == user_id).values(ip=None, user_agent=None, username="")
    )


async def login_log_page(
    session: AsyncSession,
    *,
    user_id: int | None,
    ip: str | None,
    success: bool | None,
    since_ms: int | None,
    until_ms: int | None,
    before_id: int | None,
    limit: int,
) -> list[LoginLog]:
    """Newest first."""
    stmt = select(LoginLog)
    if user_id is not None:
        stmt = stmt.where(col(LoginLog.user_id) == user_id)
    if ip is not None:
        stmt = stmt.where(col(LoginLog.ip) == ip)
    if success is not None:
        stmt = stmt.where(col(LoginLog.success) == success)
    if since_ms is not None:
        stmt = stmt.where(col(LoginLog.at) >= since_ms)
    if until_ms is not None:
        stmt = stmt.where(col(LoginLog.at) < until_ms)
    if before_id is not None:
        stmt = stmt.where(col(LoginLog.id) < before_id)
    rows = await session.execute(stmt.order_by(col(LoginLog.id).desc()).limit(limit))
    return list(rows.scalars().all())


def _reachable(except_id: int) -> ColumnElement[bool]:
    return and_(col(User.deleted_at).is_(None), col(User.disabled).is_(False), col(User.id) != except_id)


async def count_reachable_users(session: AsyncSession, *, except_id: int) -> int:
    """Users that are neither disabled nor deleted."""
    count = await session.scalar(select(func.count()).select_from(User).where(_reachable(except_id)))
    return int(count or 0)


async def reachable_user_ids(session: AsyncSession, *, after_id: int, except_id: int, limit: int) -> list[int]:
    rows = await session.execute(
        select(col(User.id)).where(col(User.id) > after_id, _reachable(except_id)).order_by(col(User.id)).limit(limit)
    )
    return [int(r or 0) for r in rows.scalars().all()]
