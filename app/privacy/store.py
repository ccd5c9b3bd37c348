"""SQL for privacy settings. No policy, no events."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.upsert import insert_for
from app.privacy.settings import DEFAULTS, PrivacySettings, from_row
from app.privacy.tables import PrivacySettingsRow

_COLUMNS = tuple(PrivacySettings.__dataclass_fields__)


def _values(row: PrivacySettingsRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in _COLUMNS}


async def get(session: AsyncSession, user_id: int) -> PrivacySettings:
    row = (
        await session.execute(select(PrivacySettingsRow).where(col(PrivacySettingsRow.user_id) == user_id))
    ).scalar_one_or_none()
    return DEFAULTS if row is None else from_row(_values(row))


async def get_many(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, PrivacySettings]:
    """Settings of each given user (defaults for those without a row)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = (await session.execute(select(PrivacySettingsRow).where(col(PrivacySettingsRow.user_id).in_(ids)))).scalars()
    found = {row.user_id: from_row(_values(row)) for row in rows}
    return {user_id: found.get(user_id, DEFAULTS) for user_id in ids}


async def change(session: AsyncSession, user_id: int, changes: dict[str, object], at: int) -> PrivacySettings:
    """Write only the changed columns (concurrent updates of different settings both
    stick) and return the settings as they now are; the upsert's row lock is held until
    commit, so what is returned is what the transaction commits."""
    plain = {k: (v.value if isinstance(v, Enum) else v) for k, v in changes.items()}
    stmt = insert_for(session, PrivacySettingsRow).values(
        user_id=user_id, **{**DEFAULTS.as_dict(), **plain}, updated_at=at
    )
    await session.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_={**plain, "updated_at": at}))
    return await get(session, user_id)
