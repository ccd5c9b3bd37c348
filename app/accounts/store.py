"""SQL for users and the login log. No policy, no events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import LoginLog, User
from app.db.types import now_ms
from app.errors import AppError, ErrorCode


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


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
