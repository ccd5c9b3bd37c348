"""SQL for messages and the channel event log. No policy, no events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels.tables import Channel
from app.messaging.tables import ChannelEvent, Message, RevokedMessageAudit


async def find_by_client_id(session: AsyncSession, sender_id: int, client_msg_id: str) -> Message | None:
    result = await session.execute(
        select(Message).where(col(Message.sender_id) == sender_id, col(Message.client_msg_id) == client_msg_id)
    )
    return result.scalar_one_or_none()


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)


async def insert_message(session: AsyncSession, message: Message) -> Message:
    session.add(message)
    await session.flush()
    return message


async def insert_event(session: AsyncSession, event: ChannelEvent) -> None:
    session.add(event)
    await session.flush()


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


async def messages_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Message]:
    if not ids:
        return {}
    result = await session.execute(select(Message).where(col(Message.id).in_(ids)))
    return {m.id: m for m in result.scalars().all() if m.id is not None}


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


async def set_last_message(session: AsyncSession, channel_id: int, message_id: int) -> None:
    await session.execute(update(Channel).where(col(Channel.id) == channel_id).values(last_message_id=message_id))


async def erase_message(session: AsyncSession, message_id: int, *, revoked_at: int, revoked_by: int) -> None:
    """Mark a message revoked and drop its content for good (the audit table, when on,
    holds the only copy)."""
    await session.execute(
        update(Message)
        .where(col(Message.id) == message_id)
        .values(revoked_at=revoked_at, revoked_by=revoked_by, content={}, meta=None, mentions=None)
    )


async def insert_audit(session: AsyncSession, row: RevokedMessageAudit) -> None:
    session.add(row)
    await session.flush()
