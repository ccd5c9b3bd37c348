"""SQL for the channel log (messages and channel events), on both databases. No policy,
no events: `app/channels/log.py` decides, this only reads and writes.

SQLAlchemy Core, not the ORM: these statements run for every message, and rows come
back as detached `Message` / `ChannelEvent` objects built from the returned columns.
The PostgreSQL fast path of a send is one statement (`send_message`, a function shipped
by migration 0007), run on the driver directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels.tables import Channel, ChannelMember
from app.db import Database
from app.messaging.tables import ChannelEvent, Message
from app.messaging.views import EventRecord, MessageRecord

_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_EVENTS = ChannelEvent.__table__  # type: ignore[attr-defined]


# --- writing ---------------------------------------------------------------------------


async def lock_channel(session: AsyncSession, channel_id: int) -> Channel | None:
    """The channel row, locked until commit (FOR NO KEY UPDATE: the lock the pts UPDATE
    takes; it conflicts with a group change's FOR UPDATE, so a send and a membership
    change of one channel run one after the other, on every node). What the transaction
    reads after this sees every change committed before it. SQLite has one writer."""
    result = await session.execute(
        select(Channel)
        .where(col(Channel.id) == channel_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def reserve_pts(session: AsyncSession, channel_id: int, at: int, count: int = 1) -> int:
    """Take the channel's next `count` pts (head-count+1 .. head); returns the new head.
    The row lock this UPDATE holds until commit is what makes pts gapless and totally
    ordered under concurrent writers, on every node."""
    result = await session.execute(
        update(Channel)
        .where(col(Channel.id) == channel_id)
        .values(pts=col(Channel.pts) + count, last_event_at=at)
        .returning(col(Channel.pts))
    )
    return int(result.scalar_one())


async def insert_messages(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert messages (one statement whatever their number); their ids, in order."""
    stmt = _MESSAGES.insert().returning(_MESSAGES.c.id, sort_by_parameter_order=True)
    result = await session.execute(stmt, list(rows))
    return [int(message_id) for (message_id,) in result.all()]


async def insert_events(session: AsyncSession, events: Sequence[ChannelEvent | EventRecord]) -> None:
    if events:
        await session.execute(_EVENTS.insert(), [{c.name: getattr(e, c.name) for c in _EVENTS.columns} for e in events])


async def set_last_message(session: AsyncSession, channel_id: int, message_id: int) -> None:
    await session.execute(update(Channel).where(col(Channel.id) == channel_id).values(last_message_id=message_id))


async def mark_sent(session: AsyncSession, channel_id: int, sender_id: int, pts: int) -> None:
    """The sender has read its own message; a new message unhides the conversation."""
    is_sender = col(ChannelMember.user_id) == sender_id
    await session.execute(
        update(ChannelMember)
        .where(col(ChannelMember.channel_id) == channel_id, is_sender | col(ChannelMember.hidden).is_(True))
        .values(
            read_pts=case((is_sender & (col(ChannelMember.read_pts) < pts), pts), else_=col(ChannelMember.read_pts)),
            hidden=False,
        )
        .execution_options(synchronize_session=False)
    )


async def mark_mentioned(
    session: AsyncSession, channel_id: int, sender_id: int, pts: int, user_ids: Sequence[int] | None
) -> None:
    """The conversation shows "mentioned" until read past the latest mention (`user_ids`
    None: everyone but the sender)."""
    mentioned = col(ChannelMember.user_id) != sender_id
    if user_ids is not None:
        mentioned = mentioned & col(ChannelMember.user_id).in_(list(user_ids))
    await session.execute(
        update(ChannelMember)
        .where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.left_at).is_(None), mentioned)
        .values(mention_pts=pts)
        .execution_options(synchronize_session=False)
    )


# --- the PostgreSQL fast path ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendRow:
    """One message for `send_messages`: the arguments of `privchat_send_message`."""

    channel_id: int
    sender_id: int
    client_msg_id: str
    type: str
    content: dict[str, Any]
    meta: dict[str, Any] | None
    reply_to_id: int | None
    mentions: Sequence[int]
    mention_all: bool
    at: int


@dataclass(frozen=True, slots=True)
class SendRules:
    """The policy facts every send of a batch passes to the function (app/channels/log.py)."""

    staff_roles: Sequence[str]
    mention_all_roles: Sequence[str]
    non_friends_may_message: bool


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What `send_messages` did with one row: `status` "ok" (stored), "duplicate"
    (`message_id` is the original), or the check that refused it."""

    status: str
    message_id: int | None
    pts: int | None
    recipients: list[int]
    reply: MessageRecord | None


# Many sends in one statement, one transaction: the function runs for each row in turn,
# in the order given (each of its statements sees what the earlier rows wrote, so a retry
# in the same batch is found as a duplicate). Callers order rows by channel, so that two
# batches take channel locks in the same order and cannot deadlock each other.
SEND_MESSAGES_SQL = """
SELECT r.*
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[],
            $7::bigint[], $8::text[], $9::boolean[], $10::bigint[])
     WITH ORDINALITY AS b(channel_id, sender_id, client_msg_id, type, content, meta,
                          reply_to_id, mentions, mention_all, at, n)
CROSS JOIN LATERAL privchat_send_message(
    b.channel_id, b.sender_id, b.client_msg_id, b.type, b.content, b.meta, b.reply_to_id,
    COALESCE(string_to_array(b.mentions, ',')::bigint[], '{}'), b.mention_all, b.at,
    $11::text[], $12::text[], $13::boolean) AS r
ORDER BY b.n
"""


async def send_messages(db: Database, rows: Sequence[SendRow], rules: SendRules) -> list[SendOutcome]:
    """Check and store messages in one statement and one round trip (PostgreSQL only),
    each as `privchat_send_message` does it (migration 0007): lock the channel, check
    membership, mute, direct-chat policy, group mute-all, reply and mentions on fresh
    data, take the pts, insert message and event, move the channel head and the sender's
    read position. One outcome per row, in order."""
    records = await db.fetch(
        SEND_MESSAGES_SQL,
        [r.channel_id for r in rows],
        [r.sender_id for r in rows],
        [r.client_msg_id for r in rows],
        [r.type for r in rows],
        [r.content for r in rows],
        [r.meta for r in rows],
        [r.reply_to_id for r in rows],
        [",".join(map(str, r.mentions)) if r.mentions else None for r in rows],
        [r.mention_all for r in rows],
        [r.at for r in rows],
        list(rules.staff_roles),
        list(rules.mention_all_roles),
        rules.non_friends_may_message,
    )
    return [_outcome(row, record) for row, record in zip(rows, records, strict=True)]


def _outcome(row: SendRow, record: Any) -> SendOutcome:
    reply = None
    if record["reply_type"] is not None:
        assert row.reply_to_id is not None
        reply = MessageRecord(  # what a reply's quote needs of the original
            id=row.reply_to_id,
            channel_id=row.channel_id,
            pts=0,
            sender_id=record["reply_sender_id"],
            client_msg_id="",
            type=record["reply_type"],
            content=record["reply_content"] or {},
            meta=None,
            reply_to_id=None,
            forwarded_from_id=None,
            mentions=None,
            mention_all=False,
            created_at=0,
            revoked_at=record["reply_revoked_at"],
        )
    return SendOutcome(
        status=record["status"],
        message_id=record["message_id"],
        pts=record["pts"],
        recipients=list(record["recipients"] or ()),
        reply=reply,
    )


# --- sync on the driver (PostgreSQL) ------------------------------------------------------

_MESSAGE_COLUMNS = (
    "id", "channel_id", "pts", "sender_id", "client_msg_id", "type", "content", "meta", "reply_to_id",
    "forwarded_from_id", "mentions", "mention_all", "created_at", "revoked_at", "revoked_by",
)  # fmt: skip


def _columns(alias: str, prefix: str) -> str:
    return ", ".join(f"{alias}.{c} AS {prefix}{c}" for c in _MESSAGE_COLUMNS)


# A page of a channel's events for a member, with their messages and the originals those
# reply to, in one statement: the membership and the head it is read against come from the
# same snapshot. No row: not an active member (or no such channel). One row with no event
# (pts NULL): nothing to send, or a gap longer than $5 (the caller tells which by the head).
DIFFERENCE_SQL = f"""
WITH member AS (
    SELECT c.pts AS head, cm.visible_from_pts AS visible_from
    FROM channels c JOIN channel_members cm ON cm.channel_id = c.id
    WHERE c.id = $1 AND cm.user_id = $2 AND cm.left_at IS NULL AND c.deleted_at IS NULL
), page AS (
    SELECT e.pts, e.kind, e.actor_id, e.message_id, e.payload, e.created_at, {_columns("m", "m_")}
    FROM member, channel_events e LEFT JOIN messages m ON m.id = e.message_id
    WHERE e.channel_id = $1 AND e.pts > GREATEST($3, member.visible_from) AND e.pts <= member.head
      AND member.head - GREATEST($3, member.visible_from) <= $5
    ORDER BY e.pts
    LIMIT $4
)
SELECT member.head, member.visible_from, page.*, {_columns("r", "r_")}
FROM member LEFT JOIN page ON true LEFT JOIN messages r ON r.id = page.m_reply_to_id
ORDER BY page.pts
"""


@dataclass(frozen=True, slots=True)
class DifferencePage:
    head: int
    visible_from: int
    events: list[tuple[EventRecord, MessageRecord | None]]
    replies: dict[int, MessageRecord]


async def difference_page(
    db: Database, channel_id: int, user_id: int, *, after: int, limit: int, max_gap: int
) -> DifferencePage | None:
    """The events of a channel after `after` (or after what the member may see), oldest
    first, at most `limit`, for an active member; None if not one. No events when the gap
    to the head is longer than `max_gap`. One statement, one round trip (PostgreSQL)."""
    rows = await db.fetch(DIFFERENCE_SQL, channel_id, user_id, after, limit, max_gap)
    if not rows:
        return None
    events: list[tuple[EventRecord, MessageRecord | None]] = []
    replies: dict[int, MessageRecord] = {}
    for row in rows:
        if row["pts"] is None:
            continue
        event = EventRecord(
            channel_id=channel_id,
            pts=row["pts"],
            kind=row["kind"],
            actor_id=row["actor_id"],
            message_id=row["message_id"],
            payload=row["payload"],
            created_at=row["created_at"],
        )
        events.append((event, _message(row, "m_")))
        reply = _message(row, "r_")
        if reply is not None:
            replies[reply.id] = reply
    return DifferencePage(head=rows[0]["head"], visible_from=rows[0]["visible_from"], events=events, replies=replies)


def _message(row: Any, prefix: str) -> MessageRecord | None:
    if row[prefix + "id"] is None:
        return None
    return MessageRecord(**{c: row[prefix + c] for c in _MESSAGE_COLUMNS})


# --- reading ---------------------------------------------------------------------------


async def find_by_client_id(session: AsyncSession, sender_id: int, client_msg_id: str) -> Message | None:
    result = await session.execute(
        select(Message).where(col(Message.sender_id) == sender_id, col(Message.client_msg_id) == client_msg_id)
    )
    return result.scalar_one_or_none()


async def by_client_ids(session: AsyncSession, sender_id: int, client_msg_ids: Sequence[str]) -> dict[str, Message]:
    result = await session.execute(
        select(Message).where(col(Message.sender_id) == sender_id, col(Message.client_msg_id).in_(client_msg_ids))
    )
    return {m.client_msg_id: m for m in result.scalars().all()}


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


async def messages_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Message]:
    if not ids:
        return {}
    result = await session.execute(select(Message).where(col(Message.id).in_(ids)))
    return {m.id: m for m in result.scalars().all() if m.id is not None}


async def messages_page(
    session: AsyncSession,
    channel_id: int,
    *,
    low: int,
    high: int,
    limit: int,
    newest_first: bool,
) -> Sequence[Message]:
    """Messages with low < pts < high, in pts order (or reversed), at most `limit`."""
    order = col(Message.pts).desc() if newest_first else col(Message.pts).asc()
    result = await session.execute(
        select(Message)
        .where(col(Message.channel_id) == channel_id, col(Message.pts) > low, col(Message.pts) < high)
        .order_by(order)
        .limit(limit)
    )
    return result.scalars().all()


async def events_after(
    session: AsyncSession, channel_id: int, *, after: int, upto: int, limit: int
) -> Sequence[tuple[ChannelEvent, Message | None]]:
    """Channel events with after < pts <= upto, oldest first, with their message if any."""
    result = await session.execute(
        select(ChannelEvent, Message)
        .outerjoin(Message, col(Message.id) == col(ChannelEvent.message_id))
        .where(
            col(ChannelEvent.channel_id) == channel_id,
            col(ChannelEvent.pts) > after,
            col(ChannelEvent.pts) <= upto,
        )
        .order_by(col(ChannelEvent.pts))
        .limit(limit)
    )
    return [(row[0], row[1]) for row in result.all()]


async def unread_counts(
    session: AsyncSession, user_id: int, read_positions: Sequence[tuple[int, int, int]]
) -> dict[int, int]:
    """Unread messages from others per channel, for (channel_id, read_pts, upto_pts)
    triples, in one round trip whatever the number of channels."""
    clauses = [
        and_(col(Message.channel_id) == cid, col(Message.pts) > read, col(Message.pts) <= upto)
        for cid, read, upto in read_positions
        if upto > read
    ]
    if not clauses:
        return {}
    result = await session.execute(
        select(col(Message.channel_id), func.count())
        .where(or_(*clauses), col(Message.sender_id) != user_id, col(Message.revoked_at).is_(None))
        .group_by(col(Message.channel_id))
    )
    return {int(cid): int(n) for cid, n in result.all()}
