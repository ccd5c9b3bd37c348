"""SQL for friendships, friend requests, the blacklist and shared cards. No policy, no events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import CompoundSelect, and_, delete, exists, func, literal, null, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from app.accounts.tables import User
from app.channels.store import direct_key
from app.channels.tables import Channel, ChannelMember
from app.contacts.rules import RequestStatus
from app.contacts.tables import BlacklistEntry, FriendRequest, Friendship, SharedCard
from app.db.upsert import insert_for
from app.groups.tables import GroupSettings


def pair_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


# --- friendships ---------------------------------------------------------------------


async def insert_friendship(session: AsyncSession, a: int, b: int, *, source_a: str, source_b: str, at: int) -> bool:
    """Both rows of a friendship (the smaller id's row first, so concurrent writers lock in
    the same order). True if the friendship is new; a missing half is repaired."""
    created = False
    for user_id, friend_id, source in sorted([(a, b, source_a), (b, a, source_b)]):
        stmt = (
            insert_for(session, Friendship)
            .values(user_id=user_id, friend_id=friend_id, source=source, created_at=at)
            .on_conflict_do_nothing(index_elements=["user_id", "friend_id"])
        )
        result = await session.execute(stmt)
        created = created or bool(getattr(result, "rowcount", 0))
    return created


async def delete_friendship(session: AsyncSession, a: int, b: int) -> bool:
    result = await session.execute(
        delete(Friendship).where(
            or_(
                and_(col(Friendship.user_id) == a, col(Friendship.friend_id) == b),
                and_(col(Friendship.user_id) == b, col(Friendship.friend_id) == a),
            )
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def get_friendship(session: AsyncSession, user_id: int, friend_id: int) -> Friendship | None:
    result = await session.execute(
        select(Friendship)
        .where(col(Friendship.user_id) == user_id, col(Friendship.friend_id) == friend_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def are_friends(session: AsyncSession, a: int, b: int) -> bool:
    stmt = select(exists().where(col(Friendship.user_id) == a, col(Friendship.friend_id) == b))
    return bool((await session.execute(stmt)).scalar())


async def friends_among(session: AsyncSession, user_id: int, ids: Iterable[int]) -> set[int]:
    ids = list(set(ids))
    if not ids:
        return set()
    result = await session.execute(
        select(col(Friendship.friend_id)).where(col(Friendship.user_id) == user_id, col(Friendship.friend_id).in_(ids))
    )
    return {int(r) for r in result.scalars()}


async def reachable_through_friends(session: AsyncSession, user_id: int, ids: Iterable[int]) -> set[int]:
    """Those of `ids` that share at least one friend with `user_id`."""
    ids = list(set(ids))
    if not ids:
        return set()
    mine, theirs = aliased(Friendship), aliased(Friendship)
    result = await session.execute(
        select(theirs.friend_id)  # type: ignore[call-overload]
        .distinct()
        .join(mine, mine.friend_id == theirs.user_id)
        .where(mine.user_id == user_id, theirs.friend_id.in_(ids))  # type: ignore[attr-defined]
    )
    return {int(r) for r in result.scalars()}


async def set_alias(session: AsyncSession, user_id: int, friend_id: int, alias: str | None) -> bool:
    result = await session.execute(
        update(Friendship)
        .where(col(Friendship.user_id) == user_id, col(Friendship.friend_id) == friend_id)
        .values(alias=alias)
    )
    return bool(getattr(result, "rowcount", 0))


async def friends_page(
    session: AsyncSession, user_id: int, *, after_friend_id: int | None, limit: int
) -> list[tuple[Friendship, User]]:
    """A user's friends by friend id (a keyset that stays stable while friends come and go)."""
    stmt = (
        select(Friendship, User)
        .join(User, col(User.id) == col(Friendship.friend_id))
        .where(col(Friendship.user_id) == user_id)
        .order_by(col(Friendship.friend_id))
        .limit(limit)
    )
    if after_friend_id is not None:
        stmt = stmt.where(col(Friendship.friend_id) > after_friend_id)
    return [(f, u) for f, u in (await session.execute(stmt)).all()]


async def friendship_pairs_page(
    session: AsyncSession, *, user_id: int | None, after: tuple[int, int] | None, limit: int
) -> list[tuple[Friendship, User, User]]:
    """Friendships as pairs: each once (smaller id first), or those of one user."""
    owner, friend = aliased(User), aliased(User)
    stmt = (
        select(Friendship, owner, friend)
        .join(owner, owner.id == col(Friendship.user_id))  # type: ignore[arg-type]
        .join(friend, friend.id == col(Friendship.friend_id))  # type: ignore[arg-type]
        .order_by(col(Friendship.user_id), col(Friendship.friend_id))
        .limit(limit)
    )
    if user_id is None:
        stmt = stmt.where(col(Friendship.user_id) < col(Friendship.friend_id))
    else:
        stmt = stmt.where(col(Friendship.user_id) == user_id)
    if after is not None:
        stmt = stmt.where(
            or_(
                col(Friendship.user_id) > after[0],
                and_(col(Friendship.user_id) == after[0], col(Friendship.friend_id) > after[1]),
            )
        )
    return [(f, a, b) for f, a, b in (await session.execute(stmt)).all()]


async def direct_channels(session: AsyncSession, user_id: int, peer_ids: Iterable[int]) -> dict[int, int]:
    """peer id -> id of the direct channel `user_id` has with that peer (where one exists)."""
    keys = {direct_key(user_id, peer): peer for peer in set(peer_ids) if peer != user_id}
    if not keys:
        return {}
    result = await session.execute(
        select(col(Channel.direct_key), col(Channel.id)).where(col(Channel.direct_key).in_(list(keys)))
    )
    return {keys[str(k)]: int(i or 0) for k, i in result.all() if k in keys}


# --- friend requests -----------------------------------------------------------------


async def lock_pair(session: AsyncSession, from_id: int, to_id: int, at: int) -> FriendRequest:
    """The pair's request row, locked until commit (created as a `none` row if the pair
    never had one). Concurrent lockers of the same pair wait here, on every node."""
    stmt = (
        insert_for(session, FriendRequest)
        .values(
            pair_key=pair_key(from_id, to_id),
            from_user_id=from_id,
            to_user_id=to_id,
            status=RequestStatus.NONE.value,
            source="search",
            created_at=at,
            updated_at=at,
        )
        .on_conflict_do_nothing(index_elements=["pair_key"])
    )
    await session.execute(stmt)
    result = await session.execute(
        select(FriendRequest)
        .where(col(FriendRequest.pair_key) == pair_key(from_id, to_id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def get_request(session: AsyncSession, a: int, b: int) -> FriendRequest | None:
    result = await session.execute(
        select(FriendRequest)
        .where(col(FriendRequest.pair_key) == pair_key(a, b))
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def write_request(
    session: AsyncSession,
    request_id: int,
    *,
    from_id: int,
    to_id: int,
    status: RequestStatus,
    message: str | None,
    source: str,
    at: int,
) -> None:
    """Overwrite the pair's (locked) row with a new request or outcome."""
    await session.execute(
        update(FriendRequest)
        .where(col(FriendRequest.id) == request_id)
        .values(
            from_user_id=from_id,
            to_user_id=to_id,
            status=status.value,
            message=message,
            source=source,
            created_at=at,
            updated_at=at,
        )
    )


async def settle_request(
    session: AsyncSession, *, from_id: int, to_id: int, status: RequestStatus, at: int
) -> FriendRequest | None:
    """Move the pending request from -> to into `status`, only if it is still pending: of
    concurrent settlers (accept, reject, recall) exactly one gets the row back."""
    result = await session.execute(
        update(FriendRequest)
        .where(
            col(FriendRequest.pair_key) == pair_key(from_id, to_id),
            col(FriendRequest.from_user_id) == from_id,
            col(FriendRequest.to_user_id) == to_id,
            col(FriendRequest.status) == RequestStatus.PENDING.value,
        )
        .values(status=status.value, updated_at=at)
        .returning(FriendRequest)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def requests_page(
    session: AsyncSession,
    user_id: int,
    *,
    incoming: bool,
    before: tuple[int, int] | None,
    limit: int,
) -> list[tuple[FriendRequest, User]]:
    """Pending requests to (incoming) or from the user, newest first, with the other user.
    Incoming requests from users the caller blocked, and from disabled users, are left out."""
    mine = col(FriendRequest.to_user_id) if incoming else col(FriendRequest.from_user_id)
    other = col(FriendRequest.from_user_id) if incoming else col(FriendRequest.to_user_id)
    stmt = (
        select(FriendRequest, User)
        .join(User, col(User.id) == other)
        .where(mine == user_id, col(FriendRequest.status) == RequestStatus.PENDING.value, col(User.disabled).is_(False))
        .order_by(col(FriendRequest.updated_at).desc(), col(FriendRequest.id).desc())
        .limit(limit)
    )
    if incoming:
        stmt = stmt.where(
            ~exists().where(col(BlacklistEntry.user_id) == user_id, col(BlacklistEntry.blocked_id) == other)
        )
    if before is not None:
        at, request_id = before
        stmt = stmt.where(
            or_(
                col(FriendRequest.updated_at) < at,
                and_(col(FriendRequest.updated_at) == at, col(FriendRequest.id) < request_id),
            )
        )
    return [(r, u) for r, u in (await session.execute(stmt)).all()]


async def cancel_pending(session: AsyncSession, *, from_id: int, to_id: int, at: int) -> bool:
    request = await settle_request(session, from_id=from_id, to_id=to_id, status=RequestStatus.CANCELLED, at=at)
    return request is not None


# --- blacklist -----------------------------------------------------------------------


async def insert_block(session: AsyncSession, user_id: int, blocked_id: int, at: int) -> bool:
    stmt = (
        insert_for(session, BlacklistEntry)
        .values(user_id=user_id, blocked_id=blocked_id, created_at=at)
        .on_conflict_do_nothing(index_elements=["user_id", "blocked_id"])
    )
    return bool(getattr(await session.execute(stmt), "rowcount", 0))


async def delete_block(session: AsyncSession, user_id: int, blocked_id: int) -> bool:
    result = await session.execute(
        delete(BlacklistEntry).where(
            col(BlacklistEntry.user_id) == user_id, col(BlacklistEntry.blocked_id) == blocked_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def get_block(session: AsyncSession, user_id: int, blocked_id: int) -> BlacklistEntry | None:
    result = await session.execute(
        select(BlacklistEntry)
        .where(col(BlacklistEntry.user_id) == user_id, col(BlacklistEntry.blocked_id) == blocked_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def blocks_between(session: AsyncSession, a: int, b: int) -> set[tuple[int, int]]:
    """(blocker, blocked) pairs between two users, in either direction."""
    result = await session.execute(
        select(col(BlacklistEntry.user_id), col(BlacklistEntry.blocked_id)).where(
            or_(
                and_(col(BlacklistEntry.user_id) == a, col(BlacklistEntry.blocked_id) == b),
                and_(col(BlacklistEntry.user_id) == b, col(BlacklistEntry.blocked_id) == a),
            )
        )
    )
    return {(int(x), int(y)) for x, y in result.all()}


async def blockers_among(session: AsyncSession, blocked_id: int, ids: Iterable[int]) -> set[int]:
    """Those of `ids` who blocked `blocked_id`."""
    ids = list(set(ids))
    if not ids:
        return set()
    result = await session.execute(
        select(col(BlacklistEntry.user_id)).where(
            col(BlacklistEntry.blocked_id) == blocked_id, col(BlacklistEntry.user_id).in_(ids)
        )
    )
    return {int(r) for r in result.scalars()}


async def blocked_among(session: AsyncSession, user_id: int, ids: Iterable[int]) -> set[int]:
    """Those of `ids` whom `user_id` blocked."""
    ids = list(set(ids))
    if not ids:
        return set()
    result = await session.execute(
        select(col(BlacklistEntry.blocked_id)).where(
            col(BlacklistEntry.user_id) == user_id, col(BlacklistEntry.blocked_id).in_(ids)
        )
    )
    return {int(r) for r in result.scalars()}


async def blacklist_page(
    session: AsyncSession, user_id: int, *, before: tuple[int, int] | None, limit: int
) -> list[tuple[BlacklistEntry, User]]:
    """The user's blacklist, most recently blocked first."""
    stmt = (
        select(BlacklistEntry, User)
        .join(User, col(User.id) == col(BlacklistEntry.blocked_id))
        .where(col(BlacklistEntry.user_id) == user_id)
        .order_by(col(BlacklistEntry.created_at).desc(), col(BlacklistEntry.blocked_id).desc())
        .limit(limit)
    )
    if before is not None:
        at, blocked_id = before
        stmt = stmt.where(
            or_(
                col(BlacklistEntry.created_at) < at,
                and_(col(BlacklistEntry.created_at) == at, col(BlacklistEntry.blocked_id) < blocked_id),
            )
        )
    return [(e, u) for e, u in (await session.execute(stmt)).all()]


async def share_active_group(session: AsyncSession, a: int, b: int) -> bool:
    """Are both active members (not left) of at least one group?"""
    mine = aliased(ChannelMember)
    theirs = aliased(ChannelMember)
    query = (
        select(col(mine.channel_id))
        .join(theirs, col(theirs.channel_id) == col(mine.channel_id))
        .join(Channel, col(Channel.id) == col(mine.channel_id))
        .where(
            col(mine.user_id) == a,
            col(theirs.user_id) == b,
            col(mine.left_at).is_(None),
            col(theirs.left_at).is_(None),
            col(Channel.kind) == "group",
            col(Channel.deleted_at).is_(None),
        )
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


async def profile_audience(session: AsyncSession, user_id: int) -> list[tuple[int, str | None, bool]]:
    """Everyone who sees `user_id`'s profile, in one statement: each friend once as
    (friend id, None, True), each co-member of an active group once per shared group
    as (member id, their role there, whether that group shows members' profiles), and the
    peer of each direct chat as (peer id, "member", False): a stranger one chats with sees
    the name and the photo, as on a profile read. A user may appear several times;
    `user_id` itself does not."""
    mine = aliased(ChannelMember)
    theirs = aliased(ChannelMember)
    peer_mine = aliased(ChannelMember)
    peer = aliased(ChannelMember)
    query: CompoundSelect[Any] = union_all(
        select(
            col(Friendship.friend_id).label("viewer"), null().label("role"), literal(True).label("see_profiles")
        ).where(col(Friendship.user_id) == user_id),
        select(
            col(theirs.user_id).label("viewer"),
            col(theirs.role).label("role"),
            # A group without its settings row (never made by the groups service) has the defaults.
            func.coalesce(col(GroupSettings.members_see_profiles), True).label("see_profiles"),
        )
        .select_from(mine)
        .join(theirs, col(theirs.channel_id) == col(mine.channel_id))
        .join(Channel, col(Channel.id) == col(mine.channel_id))
        .outerjoin(GroupSettings, col(GroupSettings.channel_id) == col(mine.channel_id))
        .where(
            col(mine.user_id) == user_id,
            col(mine.left_at).is_(None),
            col(theirs.left_at).is_(None),
            col(theirs.user_id) != user_id,
            col(Channel.kind) == "group",
            col(Channel.deleted_at).is_(None),
        ),
        select(col(peer.user_id).label("viewer"), literal("member").label("role"), literal(False).label("see_profiles"))
        .select_from(peer_mine)
        .join(peer, col(peer.channel_id) == col(peer_mine.channel_id))
        .join(Channel, col(Channel.id) == col(peer_mine.channel_id))
        .where(
            col(peer_mine.user_id) == user_id,
            col(peer.user_id) != user_id,
            col(Channel.kind) == "direct",
            col(Channel.deleted_at).is_(None),
        ),
    )
    rows: list[Any] = list((await session.execute(query)).all())
    return [(int(v), r, bool(s)) for v, r, s in rows]


# --- shared cards --------------------------------------------------------------------


async def insert_card(session: AsyncSession, card: SharedCard) -> SharedCard:
    session.add(card)
    await session.flush()
    return card


async def has_card(session: AsyncSession, *, to_user_id: int, card_user_id: int) -> bool:
    stmt = select(
        exists().where(col(SharedCard.to_user_id) == to_user_id, col(SharedCard.card_user_id) == card_user_id)
    )
    return bool((await session.execute(stmt)).scalar())
