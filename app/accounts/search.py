"""SQL for finding users: name prefixes (LIKE, escaped), exact phone/email, admin listing.
No policy: callers filter what a viewer may see (app/contacts/policy.py)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import User

LIKE_ESCAPE = "\\"


def like_prefix(text: str) -> str:
    """`text%` with LIKE's metacharacters taken literally."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return escaped + "%"


def _name_prefix(prefix: str) -> ColumnElement[bool]:
    pattern = like_prefix(prefix.lower())
    return or_(
        col(User.username_key).like(pattern, escape=LIKE_ESCAPE),
        func.lower(col(User.display_name)).like(pattern, escape=LIKE_ESCAPE),
    )


async def by_name_prefix(
    session: AsyncSession, prefix: str, *, after_key: str | None, limit: int, exclude_id: int
) -> list[User]:
    """Enabled users whose username or display name starts with `prefix` (case-insensitive),
    by username, after `after_key`."""
    stmt = (
        select(User)
        .where(_name_prefix(prefix), col(User.disabled).is_(False), col(User.id) != exclude_id)
        .order_by(col(User.username_key))
        .limit(limit)
    )
    if after_key is not None:
        stmt = stmt.where(col(User.username_key) > after_key)
    return list((await session.execute(stmt)).scalars().all())


async def by_phone(session: AsyncSession, phone: str) -> User | None:
    result = await session.execute(select(User).where(col(User.phone) == phone, col(User.disabled).is_(False)))
    return result.scalar_one_or_none()


async def by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(col(User.email) == email, col(User.disabled).is_(False)))
    return result.scalar_one_or_none()


async def admin_page(session: AsyncSession, *, text: str | None, after_id: int | None, limit: int) -> list[User]:
    """Every user (disabled ones too), by id; filtered by name prefix or exact phone/email."""
    stmt = select(User).order_by(col(User.id)).limit(limit)
    if text:
        stmt = stmt.where(or_(_name_prefix(text), col(User.email) == text.lower(), col(User.phone) == text))
    if after_id is not None:
        stmt = stmt.where(and_(col(User.id) > after_id))
    return list((await session.execute(stmt)).scalars().all())
