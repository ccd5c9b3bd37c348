"""SQL for groups: the group's channel row, its members, settings, join requests, bans and
QR codes. No policy, no events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import User
from app.channels import store as channel_store
from app.channels.tables import Channel, ChannelMember
from app.db.upsert import insert_for
from app.groups.tables import GroupBan, GroupJoinRequest, GroupQrCode, GroupSettings

# --- the group's channel -------------------------------------------------------------


async def lock_group(session: AsyncSession, channel_id: int) -> Channel | None:
    """The group's channel row, locked until commit (SELECT ... FOR UPDATE; SQLite has one
    writer anyway). Every change to a group takes this lock first, so membership, roles,
    seats and settings change one transaction at a time per group, on every node."""
    result = await session.execute(
        select(Channel)
        .where(col(Channel.id) == channel_id, col(Channel.kind) == "group")
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_group(session: AsyncSession, channel_id: int) -> Channel | None:
    result = await session.execute(
        select(Channel)
        .where(col(Channel.id) == channel_id, col(Channel.kind) == "group")
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def insert_group(session: AsyncSession, channel: Channel) -> Channel:
    session.add(channel)
    await session.flush()
    return channel


async def insert_settings(session: AsyncSession, settings: GroupSettings) -> None:
    session.add(settings)
    await session.flush()


async def update_group(session: AsyncSession, channel_id: int, values: dict[str, Any]) -> None:
    if values:
        await session.execute(update(Channel).where(col(Channel.id) == channel_id).values(**values))


async def current_pts(session: AsyncSession, channel_id: int) -> int:
    result = await session.execute(select(col(Channel.pts)).where(col(Channel.id) == channel_id))
    return int(result.scalar_one())


async def reserve_seats(session: AsyncSession, channel_id: int, count: int, limit: int) -> bool:
    """Take `count` seats unless that would pass `limit`: a conditional UPDATE, so two joins
    racing for the last seat cannot both get it even without the group lock."""
    result = await session.execute(
        update(Channel)
        .where(col(Channel.id) == channel_id, col(Channel.member_count) + count <= limit)
        .values(member_count=col(Channel.member_count) + count)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_seats(session: AsyncSession, channel_id: int, count: int) -> None:
    await session.execute(
        update(Channel)
        .where(col(Channel.id) == channel_id)
        .values(member_count=col(Channel.member_count) - count)
        .execution_options(synchronize_session=False)
    )


async def my_groups_page(
    session: AsyncSession, user_id: int, *, after_id: int | None, limit: int
) -> Sequence[tuple[Channel, ChannelMember]]:
    stmt = channel_store.memberships_of(user_id).where(col(Channel.kind) == "group")
    if after_id is not None:
        stmt = stmt.where(col(Channel.id) > after_id)
    result = await session.execute(stmt.order_by(col(Channel.id)).limit(limit))
    return [(row[0], row[1]) for row in result.all()]


async def all_groups_page(
    session: AsyncSession, *, name_prefix: str | None, include_dismissed: bool, after_id: int | None, limit: int
) -> Sequence[Channel]:
    stmt = select(Channel).where(col(Channel.kind) == "group")
    if not include_dismissed:
        stmt = stmt.where(col(Channel.deleted_at).is_(None))
    if name_prefix:
        escaped = name_prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(col(Channel.title)).like(escaped + "%", escape="\\"))
    if after_id is not None:
        stmt = stmt.where(col(Channel.id) > after_id)
    result = await session.execute(stmt.order_by(col(Channel.id)).limit(limit))
    return result.scalars().all()


# --- settings ------------------------------------------------------------------------


async def get_settings(session: AsyncSession, channel_id: int) -> GroupSettings | None:
    result = await session.execute(
        select(GroupSettings)
        .where(col(GroupSettings.channel_id) == channel_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def settings_many(session: AsyncSession, channel_ids: Iterable[int]) -> dict[int, GroupSettings]:
    ids = sorted(set(channel_ids))
    if not ids:
        return {}
    result = await session.execute(select(GroupSettings).where(col(GroupSettings.channel_id).in_(ids)))
    return {s.channel_id: s for s in result.scalars().all()}


async def update_settings(session: AsyncSession, channel_id: int, values: dict[str, Any]) -> None:
    if values:
        await session.execute(update(GroupSettings).where(col(GroupSettings.channel_id) == channel_id).values(**values))


# --- members -------------------------------------------------------------------------


async def get_member(session: AsyncSession, channel_id: int, user_id: int) -> ChannelMember | None:
    """The membership as committed now (not a copy cached earlier in the session)."""
    result = await session.execute(
        select(ChannelMember)
        .where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.user_id) == user_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def active_ids_among(session: AsyncSession, channel_id: int, user_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    result = await session.execute(
        select(col(ChannelMember.user_id)).where(
            col(ChannelMember.channel_id) == channel_id,
            col(ChannelMember.user_id).in_(ids),
            col(ChannelMember.left_at).is_(None),
        )
    )
    return {int(u) for u in result.scalars().all()}


async def staff_ids(session: AsyncSession, channel_id: int) -> list[int]:
    """Active owner and admins."""
    result = await session.execute(
        select(col(ChannelMember.user_id)).where(
            col(ChannelMember.channel_id) == channel_id,
            col(ChannelMember.left_at).is_(None),
            col(ChannelMember.role).in_(["owner", "admin"]),
        )
    )
    return sorted(int(u) for u in result.scalars().all())


async def update_member(session: AsyncSession, channel_id: int, user_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(ChannelMember)
        .where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.user_id) == user_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def mark_left(session: AsyncSession, channel_id: int, user_ids: Sequence[int], *, at: int, left_pts: int) -> None:
    """End these memberships; they keep their rows (bounded history, read state)."""
    if user_ids:
        await session.execute(
            update(ChannelMember)
            .where(
                col(ChannelMember.channel_id) == channel_id,
                col(ChannelMember.user_id).in_(list(user_ids)),
                col(ChannelMember.left_at).is_(None),
            )
            .values(left_at=at, left_pts=left_pts, muted_until=None)
            .execution_options(synchronize_session=False)
        )


async def members_page(
    session: AsyncSession, channel_id: int, *, after: tuple[int, int] | None, limit: int
) -> Sequence[tuple[ChannelMember, User]]:
    """Active members by join time (then user id), keyset paged."""
    stmt = (
        select(ChannelMember, User)
        .join(User, col(User.id) == col(ChannelMember.user_id))
        .where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.left_at).is_(None))
    )
    if after is not None:
        joined_at, user_id = after
        stmt = stmt.where(
            (col(ChannelMember.joined_at) > joined_at)
            | ((col(ChannelMember.joined_at) == joined_at) & (col(ChannelMember.user_id) > user_id))
        )
    stmt = stmt.order_by(col(ChannelMember.joined_at), col(ChannelMember.user_id)).limit(limit)
    result = await session.execute(stmt)
    return [(row[0], row[1]) for row in result.all()]


async def users_by_id(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, User]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    result = await session.execute(select(User).where(col(User.id).in_(ids)))
    return {u.id: u for u in result.scalars().all() if u.id is not None}


# --- join requests -------------------------------------------------------------------


async def put_request(session: AsyncSession, request: GroupJoinRequest) -> None:
    """Create or renew the user's request (pending again, with the new details)."""
    values = {
        "inviter_id": request.inviter_id,
        "source": request.source,
        "message": request.message,
        "status": "pending",
        "created_at": request.created_at,
        "handled_by": None,
        "handled_at": None,
    }
    stmt = insert_for(session, GroupJoinRequest).values(
        channel_id=request.channel_id, user_id=request.user_id, **values
    )
    await session.execute(stmt.on_conflict_do_update(index_elements=["channel_id", "user_id"], set_=values))


async def get_request(session: AsyncSession, channel_id: int, user_id: int) -> GroupJoinRequest | None:
    result = await session.execute(
        select(GroupJoinRequest)
        .where(col(GroupJoinRequest.channel_id) == channel_id, col(GroupJoinRequest.user_id) == user_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def settle_requests(
    session: AsyncSession, channel_id: int, user_ids: Sequence[int], *, status: str, by: int | None, at: int
) -> list[int]:
    """Move these users' pending requests to `status`; the users whose request it was."""
    if not user_ids:
        return []
    result = await session.execute(
        update(GroupJoinRequest)
        .where(
            col(GroupJoinRequest.channel_id) == channel_id,
            col(GroupJoinRequest.user_id).in_(list(user_ids)),
            col(GroupJoinRequest.status) == "pending",
        )
        .values(status=status, handled_by=by, handled_at=at)
        .returning(col(GroupJoinRequest.user_id))
        .execution_options(synchronize_session=False)
    )
    return sorted(int(u) for u in result.scalars().all())


async def cancel_pending_requests(session: AsyncSession, channel_id: int, *, by: int | None, at: int) -> None:
    await session.execute(
        update(GroupJoinRequest)
        .where(col(GroupJoinRequest.channel_id) == channel_id, col(GroupJoinRequest.status) == "pending")
        .values(status="cancelled", handled_by=by, handled_at=at)
        .execution_options(synchronize_session=False)
    )


async def pending_requests_page(
    session: AsyncSession, channel_id: int, *, after: tuple[int, int] | None, limit: int
) -> Sequence[tuple[GroupJoinRequest, User]]:
    stmt = (
        select(GroupJoinRequest, User)
        .join(User, col(User.id) == col(GroupJoinRequest.user_id))
        .where(col(GroupJoinRequest.channel_id) == channel_id, col(GroupJoinRequest.status) == "pending")
    )
    if after is not None:
        at, user_id = after
        stmt = stmt.where(
            (col(GroupJoinRequest.created_at) > at)
            | ((col(GroupJoinRequest.created_at) == at) & (col(GroupJoinRequest.user_id) > user_id))
        )
    stmt = stmt.order_by(col(GroupJoinRequest.created_at), col(GroupJoinRequest.user_id)).limit(limit)
    result = await session.execute(stmt)
    return [(row[0], row[1]) for row in result.all()]


# --- bans ----------------------------------------------------------------------------


async def insert_ban(session: AsyncSession, channel_id: int, user_id: int, *, by: int | None, at: int) -> None:
    stmt = insert_for(session, GroupBan).values(channel_id=channel_id, user_id=user_id, banned_by=by, created_at=at)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["channel_id", "user_id"]))


async def delete_bans(session: AsyncSession, channel_id: int, user_ids: Sequence[int]) -> None:
    if user_ids:
        await session.execute(
            delete(GroupBan).where(col(GroupBan.channel_id) == channel_id, col(GroupBan.user_id).in_(list(user_ids)))
        )


async def banned_among(session: AsyncSession, channel_id: int, user_ids: Iterable[int]) -> set[int]:
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    result = await session.execute(
        select(col(GroupBan.user_id)).where(col(GroupBan.channel_id) == channel_id, col(GroupBan.user_id).in_(ids))
    )
    return {int(u) for u in result.scalars().all()}


# --- QR codes ------------------------------------------------------------------------


async def get_qrcode(session: AsyncSession, channel_id: int) -> GroupQrCode | None:
    result = await session.execute(
        select(GroupQrCode).where(col(GroupQrCode.channel_id) == channel_id).execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_qrcode_by_token(session: AsyncSession, token: str) -> GroupQrCode | None:
    result = await session.execute(select(GroupQrCode).where(col(GroupQrCode.token) == token))
    return result.scalar_one_or_none()


async def put_qrcode(session: AsyncSession, code: GroupQrCode) -> None:
    """Make `code` the group's one code (the previous token stops resolving)."""
    values = {
        "token": code.token,
        "created_by": code.created_by,
        "created_at": code.created_at,
        "expires_at": code.expires_at,
        "ttl_seconds": code.ttl_seconds,
    }
    stmt = insert_for(session, GroupQrCode).values(channel_id=code.channel_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["channel_id"], set_=values))


async def delete_qrcode(session: AsyncSession, channel_id: int) -> None:
    await session.execute(delete(GroupQrCode).where(col(GroupQrCode.channel_id) == channel_id))
