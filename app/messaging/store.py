"""SQL of the messaging features on top of the channel log: recall, pins, reactions and
read state. No policy, no events (the log's own SQL is app/channels/log_store.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels import store as channel_store
from app.channels.tables import Channel, ChannelMember
from app.db.upsert import insert_for
from app.messaging.tables import ChannelPin, Message, MessageReaction, RevokedMessageAudit

# --- recall --------------------------------------------------------------------------------


async def erase_message(session: AsyncSession, message_id: int, *, revoked_at: int, revoked_by: int) -> None:
    """Mark a message revoked and drop its content for good (the audit table, when on,
    holds the only copy)."""
    await session.execute(
        update(Message)
        .where(col(Message.id) == message_id)
        .values(revoked_at=revoked_at, revoked_by=revoked_by, content={}, meta=None, mentions=None)
    )


async def live_messages_of(session: AsyncSession, sender_id: int, *, limit: int) -> list[Message]:
    """Messages of a sender not yet erased (system lines excepted), oldest first."""
    rows = await session.execute(
        select(Message)
        .where(col(Message.sender_id) == sender_id, col(Message.revoked_at).is_(None), col(Message.type) != "system")
        .order_by(col(Message.id))
        .limit(limit)
    )
    return list(rows.scalars().all())


async def insert_audit(session: AsyncSession, row: RevokedMessageAudit) -> None:
    session.add(row)
    await session.flush()


# --- visibility ------------------------------------------------------------------------------


async def visible_from_pts(session: AsyncSession, user_id: int, channel_ids: set[int]) -> dict[int, int]:
    """channel id -> the caller's `visible_from_pts`, for those of the channels that are live
    and that the caller is in (one query for many messages' channels)."""
    if not channel_ids:
        return {}
    result = await session.execute(
        select(col(ChannelMember.channel_id), col(ChannelMember.visible_from_pts))
        .join(Channel, col(Channel.id) == col(ChannelMember.channel_id))
        .where(
            col(ChannelMember.user_id) == user_id,
            col(ChannelMember.channel_id).in_(channel_ids),
            col(ChannelMember.left_at).is_(None),
            col(Channel.deleted_at).is_(None),
        )
    )
    return {int(cid): int(visible) for cid, visible in result.all()}


# --- pins ------------------------------------------------------------------------------------


async def get_pin(session: AsyncSession, channel_id: int, message_id: int) -> ChannelPin | None:
    return await session.get(ChannelPin, (channel_id, message_id))


async def insert_pin(session: AsyncSession, pin: ChannelPin) -> None:
    session.add(pin)
    await session.flush()


async def delete_pin(session: AsyncSession, channel_id: int, message_id: int) -> None:
    await session.execute(
        delete(ChannelPin).where(col(ChannelPin.channel_id) == channel_id, col(ChannelPin.message_id) == message_id)
    )


async def count_live_pins(session: AsyncSession, channel_id: int) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(ChannelPin)
        .join(Message, col(Message.id) == col(ChannelPin.message_id))
        .where(col(ChannelPin.channel_id) == channel_id, col(Message.revoked_at).is_(None))
    )
    return int(result.scalar_one())


async def live_pins(
    session: AsyncSession, channel_id: int, *, visible_from_pts: int, limit: int
) -> list[tuple[ChannelPin, Message]]:
    """Pinned, not recalled messages after `visible_from_pts`, most recently pinned first."""
    result = await session.execute(
        select(ChannelPin, Message)
        .join(Message, col(Message.id) == col(ChannelPin.message_id))
        .where(
            col(ChannelPin.channel_id) == channel_id,
            col(Message.revoked_at).is_(None),
            col(Message.pts) > visible_from_pts,
        )
        .order_by(col(ChannelPin.pinned_at).desc(), col(ChannelPin.message_id).desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in result.all()]


# --- reactions -------------------------------------------------------------------------------


async def insert_reaction(session: AsyncSession, message: Message, user_id: int, emoji: str, at: int) -> bool:
    assert message.id is not None
    stmt = (
        insert_for(session, MessageReaction)
        .values(message_id=message.id, user_id=user_id, emoji=emoji, channel_id=message.channel_id, created_at=at)
        .on_conflict_do_nothing(index_elements=["message_id", "user_id", "emoji"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def delete_reaction(session: AsyncSession, message_id: int, user_id: int, emoji: str) -> bool:
    result = await session.execute(
        delete(MessageReaction).where(
            col(MessageReaction.message_id) == message_id,
            col(MessageReaction.user_id) == user_id,
            col(MessageReaction.emoji) == emoji,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def reaction_counts(
    session: AsyncSession, message_ids: Sequence[int], user_id: int
) -> list[tuple[int, str, int, bool, int]]:
    """(message id, emoji, count, whether `user_id` is among them, first reaction time) for
    every emoji used on the messages."""
    if not message_ids:
        return []
    mine = func.max(case((col(MessageReaction.user_id) == user_id, 1), else_=0))
    result = await session.execute(
        select(
            col(MessageReaction.message_id),
            col(MessageReaction.emoji),
            func.count(),
            mine,
            func.min(col(MessageReaction.created_at)),
        )
        .where(col(MessageReaction.message_id).in_(message_ids))
        .group_by(col(MessageReaction.message_id), col(MessageReaction.emoji))
    )
    return [(int(m), str(e), int(n), bool(me), int(first)) for m, e, n, me, first in result.all()]


async def reactions_page(
    session: AsyncSession, message_id: int, *, emoji: str | None, after: tuple[int, int, str] | None, limit: int
) -> list[MessageReaction]:
    """A message's reactions newest first (keyset: created_at, user_id, emoji)."""
    stmt = select(MessageReaction).where(col(MessageReaction.message_id) == message_id)
    if emoji is not None:
        stmt = stmt.where(col(MessageReaction.emoji) == emoji)
    if after is not None:
        at, uid, emo = after
        created, user, em = col(MessageReaction.created_at), col(MessageReaction.user_id), col(MessageReaction.emoji)
        stmt = stmt.where(
            or_(created < at, and_(created == at, user < uid), and_(created == at, user == uid, em < emo))
        )
    stmt = stmt.order_by(
        col(MessageReaction.created_at).desc(), col(MessageReaction.user_id).desc(), col(MessageReaction.emoji).desc()
    )
    return list((await session.execute(stmt.limit(limit))).scalars().all())


# --- read state ------------------------------------------------------------------------------


async def memberships_among(
    session: AsyncSession, user_id: int, channel_ids: Sequence[int] | None
) -> dict[int, tuple[Channel, ChannelMember]]:
    """The user's live memberships (all, or those of `channel_ids`) with their channels."""
    stmt = channel_store.memberships_of(user_id)
    if channel_ids is not None:
        stmt = stmt.where(col(Channel.id).in_(list(channel_ids)))
    result = await session.execute(stmt)
    return {int(r[0].id or 0): (r[0], r[1]) for r in result.all()}


async def advance_reads(session: AsyncSession, user_id: int, new_reads: dict[int, int]) -> None:
    """One UPDATE for the whole batch: read positions only move forward, and a mention
    read past is cleared."""
    target = case(*[(col(ChannelMember.channel_id) == c, p) for c, p in new_reads.items()], else_=0)
    await session.execute(
        update(ChannelMember)
        .where(
            col(ChannelMember.user_id) == user_id,
            col(ChannelMember.channel_id).in_(list(new_reads)),
            col(ChannelMember.read_pts) < target,
        )
        .values(
            read_pts=target,
            mention_pts=case((col(ChannelMember.mention_pts) <= target, None), else_=col(ChannelMember.mention_pts)),
        )
        # The caller works from the values it read; don't expire (and lazily reload) them.
        .execution_options(synchronize_session=False)
    )


async def direct_peers(session: AsyncSession, user_id: int, channel_ids: list[int]) -> dict[int, int]:
    if not channel_ids:
        return {}
    result = await session.execute(
        select(col(ChannelMember.channel_id), col(ChannelMember.user_id)).where(
            col(ChannelMember.channel_id).in_(channel_ids), col(ChannelMember.user_id) != user_id
        )
    )
    return {int(c): int(u) for c, u in result.all()}


async def senders_between(
    session: AsyncSession, moves: dict[int, tuple[int, int]], *, exclude: int
) -> dict[int, list[int]]:
    """Who sent messages in each channel's (old, new] pts range, but `exclude`."""
    result = await session.execute(
        select(col(Message.channel_id), col(Message.sender_id))
        .where(
            or_(
                *[
                    and_(col(Message.channel_id) == c, col(Message.pts) > old, col(Message.pts) <= new)
                    for c, (old, new) in moves.items()
                ]
            ),
            col(Message.sender_id) != exclude,
        )
        .distinct()
    )
    out: dict[int, list[int]] = {}
    for channel_id, sender_id in result.all():
        out.setdefault(int(channel_id), []).append(int(sender_id))
    return out


async def readers_of(
    session: AsyncSession, message: Message, *, after_user_id: int, limit: int
) -> list[int]:
    """Active members (not the sender) whose read position reached the message, by id."""
    result = await session.execute(
        select(col(ChannelMember.user_id))
        .where(
            col(ChannelMember.channel_id) == message.channel_id,
            col(ChannelMember.left_at).is_(None),
            col(ChannelMember.user_id) != message.sender_id,
            col(ChannelMember.read_pts) >= message.pts,
            col(ChannelMember.user_id) > after_user_id,
        )
        .order_by(col(ChannelMember.user_id))
        .limit(limit)
    )
    return [int(u) for u in result.scalars().all()]


async def read_positions(session: AsyncSession, message: Message) -> dict[int, int]:
    """Active members (not the sender) -> their read pts, in the message's channel."""
    result = await session.execute(
        select(col(ChannelMember.user_id), col(ChannelMember.read_pts)).where(
            col(ChannelMember.channel_id) == message.channel_id,
            col(ChannelMember.left_at).is_(None),
            col(ChannelMember.user_id) != message.sender_id,
        )
    )
    return {int(u): int(r) for u, r in result.all()}
