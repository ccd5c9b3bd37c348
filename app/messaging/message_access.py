"""One message, on behalf of a member: what reactions and pins act on.

An unknown message, a message of a channel the caller is not in and one from before the
caller could see the channel are all reported as the same NOT_FOUND: existence never
leaks.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels.tables import Channel, ChannelMember
from app.errors import AppError, ErrorCode, not_found
from app.messaging import store
from app.messaging.service import MessagingService
from app.messaging.tables import Message


async def lock_channel(session: AsyncSession, channel_id: int) -> None:
    """Take the channel's row lock (the one `next_pts` takes) before reading the state a
    change depends on. Changes to one channel's reactions and pins then run one at a time,
    in pts order, and each sees what the one before committed (a recall, a pin).
    FOR NO KEY UPDATE, like the pts UPDATE itself: inserts referencing the channel are
    not blocked. SQLite has one writer anyway and ignores the clause."""
    await session.execute(select(col(Channel.id)).where(col(Channel.id) == channel_id).with_for_update(key_share=True))


async def member_message(
    messaging: MessagingService, session: AsyncSession, message_id: int, user_id: int, *, lock: bool
) -> tuple[Message, Channel, ChannelMember]:
    """The message with its channel and the caller's membership; with `lock`, the channel
    is locked and the message re-read under the lock."""
    message = await store.get_message(session, message_id)
    if message is None:
        raise not_found("message")
    try:
        channel, member = await messaging.require_member(session, message.channel_id, user_id)
    except AppError as exc:
        if exc.code is ErrorCode.NOT_FOUND:
            raise not_found("message") from None  # not "channel not found": that would tell it exists
        raise
    if message.pts <= member.visible_from_pts:
        raise not_found("message")
    if lock:  # only once the caller is known to be a member: nobody else gets to hold it
        await lock_channel(session, message.channel_id)
        await session.refresh(message)
    return message, channel, member


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
