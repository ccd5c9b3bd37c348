"""SQL for channels and membership. No policy, no events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels.tables import Channel, ChannelMember
from app.db.upsert import insert_for


def direct_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def peer_of(channel: Channel, user_id: int) -> int | None:
    """The other user of a direct channel, read from its key (no query)."""
    if channel.kind != "direct" or not channel.direct_key:
        return None
    low, high = (int(x) for x in channel.direct_key.split(":"))
    return high if low == user_id else low


def memberships_of(user_id: int) -> Select[Channel, ChannelMember]:
    """Channels the user is an active member of (not deleted), each with the membership:
    the base of every "my channels" query."""
    return (
        select(Channel, ChannelMember)
        .join(ChannelMember, col(ChannelMember.channel_id) == col(Channel.id))
        .where(
            col(ChannelMember.user_id) == user_id,
            col(ChannelMember.left_at).is_(None),
            col(Channel.deleted_at).is_(None),
        )
    )


async def get_channel(session: AsyncSession, channel_id: int) -> Channel | None:
    return await session.get(Channel, channel_id)


async def get_direct(session: AsyncSession, key: str) -> Channel | None:
    result = await session.execute(select(Channel).where(col(Channel.direct_key) == key))
    return result.scalar_one_or_none()


async def insert_direct(session: AsyncSession, key: str, at: int) -> bool:
    """Create the pair's channel unless a concurrent transaction already did."""
    stmt = (
        insert_for(session, Channel)
        .values(kind="direct", direct_key=key, pts=0, member_count=2, created_at=at, last_event_at=at)
        .on_conflict_do_nothing(index_elements=["direct_key"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def insert_channel(session: AsyncSession, channel: Channel) -> Channel:
    session.add(channel)
    await session.flush()
    return channel


async def add_member(session: AsyncSession, member: ChannelMember) -> None:
    """Insert or re-activate a membership (a member who left and comes back)."""
    values = {
        "channel_id": member.channel_id,
        "user_id": member.user_id,
        "role": member.role,
        "joined_at": member.joined_at,
        "visible_from_pts": member.visible_from_pts,
        "invited_by": member.invited_by,
        "read_pts": member.read_pts,
    }
    stmt = insert_for(session, ChannelMember).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel_id", "user_id"],
        set_={
            **{k: v for k, v in values.items() if k not in ("channel_id", "user_id")},
            "left_at": None,
            "left_pts": None,
            "muted_until": None,
            "hidden": False,
            "mention_pts": None,
        },
    )
    await session.execute(stmt)


async def get_member(session: AsyncSession, channel_id: int, user_id: int) -> ChannelMember | None:
    return await session.get(ChannelMember, (channel_id, user_id))


async def get_membership(session: AsyncSession, channel_id: int, user_id: int) -> tuple[Channel, ChannelMember] | None:
    """The channel with the user's active membership, in one query (None: not a member, or
    no such channel, or it was deleted)."""
    result = await session.execute(memberships_of(user_id).where(col(Channel.id) == channel_id))
    row = result.first()
    return (row[0], row[1]) if row else None


async def active_member_ids(session: AsyncSession, channel_id: int) -> list[int]:
    result = await session.execute(
        select(col(ChannelMember.user_id)).where(
            col(ChannelMember.channel_id) == channel_id, col(ChannelMember.left_at).is_(None)
        )
    )
    return [int(r) for r in result.scalars().all()]


async def count_active_members(session: AsyncSession, channel_id: int) -> int:
    result = await session.execute(
        select(func.count()).where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.left_at).is_(None))
    )
    return int(result.scalar_one())


async def member_channels_page(
    session: AsyncSession,
    user_id: int,
    *,
    pinned: bool,
    before: tuple[int, int] | None,
    limit: int,
) -> Sequence[tuple[Channel, ChannelMember]]:
    """The user's visible conversations, latest message first, pinned ones apart."""
    stmt = memberships_of(user_id).where(col(ChannelMember.hidden).is_(False))
    if pinned:
        stmt = stmt.where(col(ChannelMember.pinned_at).is_not(None)).order_by(col(ChannelMember.pinned_at).desc())
    else:
        # By latest message (ids grow with time): a reaction or a pin must not move a
        # conversation to the top, as every channel event does to last_event_at.
        latest = func.coalesce(col(Channel.last_message_id), 0)
        stmt = stmt.where(col(ChannelMember.pinned_at).is_(None))
        if before is not None:
            last_id, channel_id = before
            stmt = stmt.where((latest < last_id) | ((latest == last_id) & (col(Channel.id) < channel_id)))
        stmt = stmt.order_by(latest.desc(), col(Channel.id).desc())
    result = await session.execute(stmt.limit(limit))
    return [(row[0], row[1]) for row in result.all()]


async def member_channels_changed(
    session: AsyncSession, user_id: int, *, since: int, after: tuple[int, int] | None, limit: int
) -> Sequence[tuple[Channel, ChannelMember]]:
    """The user's channels with activity after `since`, oldest change first (keyset paged)."""
    stmt = memberships_of(user_id).where(col(Channel.last_event_at) >= since)
    if after is not None:
        at, channel_id = after
        stmt = stmt.where(
            (col(Channel.last_event_at) > at) | ((col(Channel.last_event_at) == at) & (col(Channel.id) > channel_id))
        )
    stmt = stmt.order_by(col(Channel.last_event_at).asc(), col(Channel.id).asc()).limit(limit)
    result = await session.execute(stmt)
    return [(row[0], row[1]) for row in result.all()]


async def count_pinned(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        select(func.count()).where(
            col(ChannelMember.user_id) == user_id,
            col(ChannelMember.left_at).is_(None),
            col(ChannelMember.pinned_at).is_not(None),
        )
    )
    return int(result.scalar_one())


async def update_member(session: AsyncSession, channel_id: int, user_id: int, values: dict[str, object]) -> None:
    await session.execute(
        update(ChannelMember)
        .where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.user_id) == user_id)
        .values(**values)
    )
