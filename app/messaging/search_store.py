"""SQL for message search. No policy, no events.

What is searchable: the text of text messages, image captions and file names (never
system lines, never revoked messages). Each dialect has its own index, created by
migration 0006 (alembic/versions/0006_presence_and_message_search.py):

- PostgreSQL: a pg_trgm GIN index on the searchable text (`SEARCH_BODY_PG`), so
  `ILIKE '%term%'` is an index lookup. The expression here must stay *textually* the
  one in the migration, or the planner will not match it to the index.
- SQLite: an FTS5 table `messages_fts` (trigram tokenizer: substring matching, as on
  PostgreSQL) kept in sync with `messages` by triggers; rowid is the message id.

Both match every term as a case-insensitive substring (all terms must occur).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, column, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels.tables import Channel, ChannelMember
from app.messaging.tables import Message

SEARCH_BODY_PG = (
    "(CASE messages.type WHEN 'text' THEN messages.content ->> 'text' "
    "WHEN 'image' THEN messages.content ->> 'caption' "
    "WHEN 'file' THEN messages.content ->> 'name' END)"
)
SEARCH_BODY_SQLITE = (
    "(CASE messages.type WHEN 'text' THEN json_extract(messages.content, '$.text') "
    "WHEN 'image' THEN json_extract(messages.content, '$.caption') "
    "WHEN 'file' THEN json_extract(messages.content, '$.name') END)"
)
# The FTS5 trigram tokenizer indexes sequences of three characters: shorter terms
# cannot use it and are matched with LIKE instead.
TRIGRAM = 3

_fts = table("messages_fts", column("rowid"))


@dataclass(frozen=True, slots=True)
class SearchCriteria:
    terms: tuple[str, ...]  # each must occur (case-insensitively) in the text
    channel_id: int | None = None
    sender_id: int | None = None
    types: tuple[str, ...] = ()
    created_after: int | None = None  # inclusive, ms
    created_before: int | None = None  # exclusive, ms


def like_pattern(term: str) -> str:
    """`%term%` with LIKE's own metacharacters taken literally (ESCAPE '\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts5_query(terms: Sequence[str]) -> str:
    """An FTS5 query of quoted strings (implicitly ANDed): inside double quotes nothing
    is an operator, so user text cannot change the query's meaning."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _sqlite_matches(terms: Sequence[str]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    long_terms = [t for t in terms if len(t) >= TRIGRAM]
    if long_terms:
        matching = select(_fts.c.rowid).where(
            text("messages_fts MATCH :fts_query").bindparams(fts_query=fts5_query(long_terms))
        )
        clauses.append(col(Message.id).in_(matching))
    body: ColumnElement[str] = literal_column(SEARCH_BODY_SQLITE)
    clauses += [body.like(like_pattern(t), escape="\\") for t in terms if len(t) < TRIGRAM]
    return clauses


async def search(
    session: AsyncSession, user_id: int, criteria: SearchCriteria, *, before_id: int | None, limit: int
) -> Sequence[Message]:
    """Matching messages the user may see (active membership, after the point from which
    the member sees the channel, not revoked), newest first, ids below `before_id`."""
    if session.get_bind().dialect.name == "postgresql":
        ids = await _postgres_ids(session, _PgQuery(user_id, criteria, before_id), limit)
        if not ids:
            return []
        result = await session.execute(select(Message).where(col(Message.id).in_(ids)).order_by(col(Message.id).desc()))
        return result.scalars().all()
    return await _sqlite(session, user_id, criteria, before_id=before_id, limit=limit)


async def _sqlite(
    session: AsyncSession, user_id: int, criteria: SearchCriteria, *, before_id: int | None, limit: int
) -> Sequence[Message]:
    stmt = (
        select(Message)
        .join(
            ChannelMember,
            and_(
                col(ChannelMember.channel_id) == col(Message.channel_id),
                col(ChannelMember.user_id) == user_id,
                col(ChannelMember.left_at).is_(None),
            ),
        )
        .join(Channel, col(Channel.id) == col(Message.channel_id))
        .where(
            col(Channel.deleted_at).is_(None),
            col(Message.pts) > col(ChannelMember.visible_from_pts),
            col(Message.revoked_at).is_(None),
            *_sqlite_matches(criteria.terms),
        )
    )
    if criteria.channel_id is not None:
        stmt = stmt.where(col(Message.channel_id) == criteria.channel_id)
    if criteria.sender_id is not None:
        stmt = stmt.where(col(Message.sender_id) == criteria.sender_id)
    if criteria.types:
        stmt = stmt.where(col(Message.type).in_(criteria.types))
    if criteria.created_after is not None:
        stmt = stmt.where(col(Message.created_at) >= criteria.created_after)
    if criteria.created_before is not None:
        stmt = stmt.where(col(Message.created_at) < criteria.created_before)
    if before_id is not None:
        stmt = stmt.where(col(Message.id) < before_id)
    result = await session.execute(stmt.order_by(col(Message.id).desc()).limit(limit))
    return result.scalars().all()


# --- PostgreSQL: three exact strategies, cheapest first ---------------------------------
#
# A trigram index finds rare text fast but cannot give matches newest first: for a
# common word it hands over a large share of all messages (everyone's), to be fetched
# and sorted. Scanning the user's own channels newest first is the opposite. Leaving the
# choice to the planner works only with good estimates, and a wrong one costs seconds.
# So each search tries, in order, and stops at the first answer that is provably exact:
#
# 1. the newest rows of each of the user's channels (a bounded window): enough when
#    `limit` matches lie above the point where some channel's window was cut off;
# 2. the trigram index, if it finds at most CANDIDATE_CAP candidates (all users');
# 3. a scan of the user's visible messages (cost bounded by the user's own history).

WINDOW_BUDGET = 2_000  # rows of the user's newest messages step 1 looks at
CANDIDATE_CAP = 5_000  # trigram candidates step 2 accepts before giving up
_PG_BODY_M = SEARCH_BODY_PG.replace("messages.", "m.")
_MINE = (
    "SELECT cm.channel_id, cm.visible_from_pts FROM channel_members cm "
    "JOIN channels c ON c.id = cm.channel_id AND c.deleted_at IS NULL "
    "WHERE cm.user_id = :user_id AND cm.left_at IS NULL"
)


class _PgQuery:
    """The bound parameters and SQL conditions the three steps share (rows aliased m)."""

    def __init__(self, user_id: int, criteria: SearchCriteria, before_id: int | None) -> None:
        self.params: dict[str, object] = {"user_id": user_id}
        self.expanding: list[str] = []
        self.mine = _MINE
        self.channel = ""
        if criteria.channel_id is not None:
            self.mine += " AND cm.channel_id = :channel_id"
            self.channel = " AND m.channel_id = :channel_id"
            self.params["channel_id"] = criteria.channel_id
        self.before = ""
        if before_id is not None:
            self.before = " AND m.id < :before_id"
            self.params["before_id"] = before_id
        filters = []
        if criteria.sender_id is not None:
            filters.append("m.sender_id = :sender_id")
            self.params["sender_id"] = criteria.sender_id
        if criteria.types:
            filters.append("m.type IN :types")
            self.params["types"] = list(criteria.types)
            self.expanding.append("types")
        if criteria.created_after is not None:
            filters.append("m.created_at >= :created_after")
            self.params["created_after"] = criteria.created_after
        if criteria.created_before is not None:
            filters.append("m.created_at < :created_before")
            self.params["created_before"] = criteria.created_before
        self.filters = "".join(" AND " + f for f in filters)
        self.terms = criteria.terms
        for i, term in enumerate(criteria.terms):
            self.params[f"term{i}"] = like_pattern(term)

    def matches(self, body: str) -> str:
        return "".join(f" AND {body} ILIKE :term{i} ESCAPE '\\'" for i in range(len(self.terms)))

    async def run(self, session: AsyncSession, sql: str, **extra: object) -> list[Any]:
        stmt = text(sql).bindparams(*(bindparam(n, expanding=True) for n in self.expanding if f":{n}" in sql))
        return list((await session.execute(stmt, {**self.params, **extra})).all())


async def _postgres_ids(session: AsyncSession, q: _PgQuery, limit: int) -> list[int]:
    channels = (await q.run(session, f"SELECT count(*) FROM ({q.mine}) mine"))[0][0]
    if not channels:
        return []
    window = max(8, min(400, WINDOW_BUDGET // channels))
    rows = await q.run(
        session,
        f"""WITH mine AS ({q.mine}),
        win AS (SELECT r.* FROM mine CROSS JOIN LATERAL (
            SELECT m.id, m.channel_id, m.sender_id, m.type, m.created_at, m.revoked_at, {_PG_BODY_M} AS body
            FROM messages m WHERE m.channel_id = mine.channel_id AND m.pts > mine.visible_from_pts{q.before}
            ORDER BY m.pts DESC LIMIT :window) r),
        edge AS (SELECT count(*) AS cut, max(low) AS horizon FROM (
            SELECT min(id) AS low FROM win GROUP BY channel_id HAVING count(*) >= :window) t)
        SELECT edge.cut, edge.horizon, x.id FROM edge LEFT JOIN LATERAL (
            SELECT m.id FROM win m WHERE m.revoked_at IS NULL{q.filters}{q.matches("m.body")}
            ORDER BY m.id DESC LIMIT :limit) x ON true""",
        window=window,
        limit=limit,
    )
    cut, horizon = rows[0][0], rows[0][1]
    found = [int(r[2]) for r in rows if r[2] is not None]
    if not cut:
        return found  # every visible message was looked at
    above = [i for i in found if i > horizon]
    if len(above) >= limit:
        return above[:limit]
    if any(len(t) >= TRIGRAM for t in q.terms):
        rows = await q.run(
            session,
            f"""WITH hits AS MATERIALIZED (
                SELECT m.id, m.channel_id, m.pts FROM messages m
                WHERE m.revoked_at IS NULL{q.channel}{q.before}{q.filters}{q.matches(_PG_BODY_M)} LIMIT :cap),
            mine AS ({q.mine})
            SELECT t.total, x.id FROM (SELECT count(*) AS total FROM hits) t LEFT JOIN LATERAL (
                SELECT hits.id FROM hits JOIN mine ON mine.channel_id = hits.channel_id
                AND hits.pts > mine.visible_from_pts ORDER BY hits.id DESC LIMIT :limit) x ON true""",
            cap=CANDIDATE_CAP + 1,
            limit=limit,
        )
        if rows[0][0] <= CANDIDATE_CAP:
            return [int(r[1]) for r in rows if r[1] is not None]
    # `|| ''` keeps the planner off the trigram index here: this step is for when it did not pay.
    rows = await q.run(
        session,
        f"""WITH mine AS ({q.mine})
        SELECT m.id FROM mine JOIN messages m ON m.channel_id = mine.channel_id AND m.pts > mine.visible_from_pts
        WHERE m.revoked_at IS NULL{q.before}{q.filters}{q.matches(f"({_PG_BODY_M} || '')")}
        ORDER BY m.id DESC LIMIT :limit""",
        limit=limit,
    )
    return [int(r[0]) for r in rows]
