"""SQL for user update sequences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import Database
from app.db.upsert import insert_for
from app.sync.tables import UserSequence, UserUpdate


async def next_user_seq(session: AsyncSession, user_id: int) -> int:
    """Take the user's next seq; the row lock serialises concurrent appends for one user."""
    stmt = insert_for(session, UserSequence).values(user_id=user_id, seq=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"seq": UserSequence.__table__.c.seq + 1},  # type: ignore[attr-defined]
    ).returning(UserSequence.__table__.c.seq)  # type: ignore[attr-defined]
    return int((await session.execute(stmt)).scalar_one())


async def insert_update(
    session: AsyncSession, *, user_id: int, seq: int, kind: str, payload: dict[str, Any], at: int
) -> None:
    session.add(UserUpdate(user_id=user_id, seq=seq, kind=kind, payload=payload, created_at=at))
    await session.flush()


async def current_seq(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(select(col(UserSequence.seq)).where(col(UserSequence.user_id) == user_id))
    return int(result.scalar_one_or_none() or 0)


async def updates_since(session: AsyncSession, user_id: int, since: int, limit: int) -> Sequence[UserUpdate]:
    result = await session.execute(
        select(UserUpdate)
        .where(col(UserUpdate.user_id) == user_id, col(UserUpdate.seq) > since)
        .order_by(col(UserUpdate.seq))
        .limit(limit)
    )
    return result.scalars().all()


# The user's head and the updates after `since` up to it, in one statement (the driver
# path of PostgreSQL): one row with a NULL seq when there is nothing after `since`.
UPDATES_SINCE_SQL = """
SELECT h.head, u.seq, u.kind, u.payload, u.created_at
FROM (SELECT COALESCE((SELECT s.seq FROM user_sequences s WHERE s.user_id = $1), 0) AS head) h
LEFT JOIN LATERAL (
    SELECT seq, kind, payload, created_at FROM user_updates
    WHERE user_id = $1 AND seq > $2 AND seq <= h.head ORDER BY seq LIMIT $3
) u ON true
ORDER BY u.seq
"""


async def head_and_updates_since(db: Database, user_id: int, since: int, limit: int) -> tuple[int, list[UserUpdate]]:
    """The user's current seq and up to `limit` updates after `since` (PostgreSQL, one
    round trip, one snapshot)."""
    rows = await db.fetch(UPDATES_SINCE_SQL, user_id, since, limit)
    updates = [
        UserUpdate(user_id=user_id, seq=r["seq"], kind=r["kind"], payload=r["payload"], created_at=r["created_at"])
        for r in rows
        if r["seq"] is not None
    ]
    return int(rows[0]["head"]), updates


async def next_user_seqs(session: AsyncSession, counts: dict[int, int]) -> dict[int, int]:
    """Reserve `counts[user]` consecutive seqs for each user in one statement; returns each
    user's new head (the reserved seqs are head-count+1 .. head)."""
    if not counts:
        return {}
    table = UserSequence.__table__  # type: ignore[attr-defined]
    stmt = insert_for(session, UserSequence).values([{"user_id": u, "seq": n} for u, n in sorted(counts.items())])
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"], set_={"seq": table.c.seq + stmt.excluded.seq}
    ).returning(table.c.user_id, table.c.seq)
    return {int(u): int(s) for u, s in (await session.execute(stmt)).all()}


async def insert_updates(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(UserUpdate.__table__.insert(), rows)  # type: ignore[attr-defined]
