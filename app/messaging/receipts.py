"""Read state: marking read (one channel or hundreds in one call), unread counts, and who
read a message (honouring the privacy setting that hides read receipts).

Reading on one device is a user update for the reader's other devices (they clear their
unread badges); in a direct chat the peer gets a `peer_read` update when the reader shows
read receipts; in a group, the senders of the newly read messages get an ephemeral
`group_read` hint and ask `read_stats` for the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels import store as channel_store
from app.channels.tables import Channel, ChannelMember
from app.contacts.policy import SocialPolicy
from app.context import Principal
from app.db import Database, Transaction
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.events import EventHub
from app.messaging import store
from app.messaging.service import MessagingService
from app.messaging.tables import Message
from app.sync.updates import UserUpdates

MAX_READ_BATCH = 1000
MAX_READERS_PAGE = 200


@dataclass(frozen=True, slots=True)
class ReadResult:
    channel_id: int
    read_pts: int
    unread: int
    ok: bool = True
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class UnreadCount:
    channel_id: int
    unread: int
    mentioned: bool


@dataclass(frozen=True, slots=True)
class ReadStats:
    message_id: int
    read_count: int
    unread_count: int


class ReadService:
    def __init__(
        self,
        *,
        db: Database,
        updates: UserUpdates,
        hub: EventHub,
        policy: SocialPolicy,
        messaging: MessagingService,
    ) -> None:
        self.db = db
        self.updates = updates
        self.hub = hub
        self.policy = policy
        self.messaging = messaging

    async def read(self, principal: Principal, channel_id: int, pts: int) -> ReadResult:
        result = (await self.read_batch(principal, [(channel_id, pts)]))[0]
        if not result.ok:
            if result.error_code == ErrorCode.NOT_FOUND.value:
                raise not_found("channel")
            raise bad_input(f"pts ({pts}) is beyond the channel's pts", field="pts")
        return result

    async def read_batch(self, principal: Principal, items: list[tuple[int, int]]) -> list[ReadResult]:
        """Mark channels read up to the given pts. The read positions of the whole batch are
        checked and written in one statement each, however many channels it names."""
        if not 1 <= len(items) <= MAX_READ_BATCH:
            raise bad_input(f"items must hold 1..{MAX_READ_BATCH} entries", field="items")
        wanted: dict[int, int] = {}
        for channel_id, pts in items:
            if pts < 0:
                raise bad_input("pts must be >= 0", field="pts")
            wanted[channel_id] = max(pts, wanted.get(channel_id, 0))
        user_id = principal.user_id
        async with self.db.transaction() as tx:
            session = tx.session
            rows = await _memberships(session, user_id, list(wanted))
            results: dict[int, ReadResult] = {}
            moves: dict[int, tuple[int, int]] = {}  # channel -> (old read, new read)
            for channel_id, pts in wanted.items():
                found = rows.get(channel_id)
                if found is None:
                    results[channel_id] = ReadResult(channel_id, 0, 0, ok=False, error_code=ErrorCode.NOT_FOUND.value)
                    continue
                channel, member = found
                if pts > channel.pts:
                    results[channel_id] = ReadResult(
                        channel_id, member.read_pts, 0, ok=False, error_code=ErrorCode.BAD_USER_INPUT.value
                    )
                    continue
                if pts > member.read_pts:
                    moves[channel_id] = (member.read_pts, pts)
            if moves:
                await _advance(session, user_id, {c: new for c, (_, new) in moves.items()})
                await self._notify(tx, principal, rows, moves)
            positions = [
                (cid, max(moves.get(cid, (0, m.read_pts))[1], m.visible_from_pts), c.pts)
                for cid, (c, m) in rows.items()
                if cid not in results
            ]
            unread = await store.unread_counts(session, user_id, positions)
        for cid, (_, member) in rows.items():
            if cid not in results:
                results[cid] = ReadResult(cid, moves.get(cid, (0, member.read_pts))[1], unread.get(cid, 0))
        return [results[c] for c in wanted]

    async def _notify(
        self,
        tx: Transaction,
        principal: Principal,
        rows: dict[int, tuple[Channel, ChannelMember]],
        moves: dict[int, tuple[int, int]],
    ) -> None:
        session = tx.session
        user_id = principal.user_id
        items: list[tuple[int, str, dict[str, object]]] = [
            (user_id, "read", {"channels": [{"channelId": c, "readPts": new} for c, (_, new) in moves.items()]})
        ]
        shows = await self.policy.shows_read_receipts(session, user_id)
        if shows:
            direct = [c for c in moves if rows[c][0].kind == "direct"]
            peers = await _direct_peers(session, user_id, direct)
            for channel_id, peer in peers.items():
                items.append(
                    (peer, "peer_read", {"channelId": channel_id, "userId": user_id, "readPts": moves[channel_id][1]})
                )
            groups = {c: moves[c] for c in moves if rows[c][0].kind == "group"}
            if groups:
                senders = await _senders_between(session, groups, exclude=user_id)
                for channel_id, sender_ids in senders.items():
                    tx.after_commit(
                        self.hub.deliver,
                        sender_ids,
                        {"type": "group_read", "channelId": channel_id, "upToPts": groups[channel_id][1]},
                    )
        await self.updates.append_many(tx, items)

    async def counts(self, principal: Principal, channel_ids: list[int] | None) -> list[UnreadCount]:
        if channel_ids is not None and len(channel_ids) > MAX_READ_BATCH:
            raise bad_input(f"at most {MAX_READ_BATCH} channels", field="channelIds")
        async with self.db.read() as session:
            stmt = channel_store.memberships_of(principal.user_id)
            if channel_ids is not None:
                stmt = stmt.where(col(Channel.id).in_(channel_ids))
            rows = [(r[0], r[1]) for r in (await session.execute(stmt)).all()]
            unread = await store.unread_counts(
                session, principal.user_id, [(c.id or 0, max(m.read_pts, m.visible_from_pts), c.pts) for c, m in rows]
            )
        if channel_ids is not None and len({c.id for c, _ in rows}) != len(set(channel_ids)):
            raise not_found("channel")
        return [
            UnreadCount(
                channel_id=c.id or 0,
                unread=unread.get(c.id or 0, 0),
                mentioned=m.mention_pts is not None and m.mention_pts > m.read_pts,
            )
            for c, m in sorted(rows, key=lambda r: -r[0].last_event_at)
        ]

    async def _message_for_receipts(self, session: AsyncSession, principal: Principal, message_id: int) -> Message:
        message = await store.get_message(session, message_id)
        if message is None:
            raise not_found("message")
        channel, member = await self.messaging.require_member(session, message.channel_id, principal.user_id)
        if message.pts <= member.visible_from_pts:
            raise not_found("message")
        if message.sender_id != principal.user_id and not (
            channel.kind == "group" and member.role in ("owner", "admin")
        ):
            raise AppError(ErrorCode.FORBIDDEN, "only the sender (or a group admin) sees who read a message")
        return message

    async def readers(
        self, principal: Principal, message_id: int, *, after_user_id: int, limit: int
    ) -> tuple[list[int], bool]:
        """Who read the message (members whose read position reached it and who show read
        receipts), by user id, paged."""
        if not 1 <= limit <= MAX_READERS_PAGE:
            raise bad_input(f"limit must be 1..{MAX_READERS_PAGE}", field="limit")
        async with self.db.read() as session:
            message = await self._message_for_receipts(session, principal, message_id)
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
                .limit(limit * 2 + 1)
            )
            candidates = [int(u) for u in result.scalars().all()]
            visible = await self.policy.read_receipts_shown(session, candidates)
        readers = [u for u in candidates if u in visible]
        return readers[:limit], len(readers) > limit or len(candidates) > limit * 2

    async def stats(self, principal: Principal, message_id: int) -> ReadStats:
        async with self.db.read() as session:
            message = await self._message_for_receipts(session, principal, message_id)
            result = await session.execute(
                select(col(ChannelMember.user_id), col(ChannelMember.read_pts)).where(
                    col(ChannelMember.channel_id) == message.channel_id,
                    col(ChannelMember.left_at).is_(None),
                    col(ChannelMember.user_id) != message.sender_id,
                )
            )
            members = {int(u): int(r) for u, r in result.all()}
            visible = await self.policy.read_receipts_shown(session, list(members))
        read = sum(1 for u, r in members.items() if u in visible and r >= message.pts)
        unread = sum(1 for u, r in members.items() if u in visible and r < message.pts)
        return ReadStats(message_id=message_id, read_count=read, unread_count=unread)


async def _memberships(
    session: AsyncSession, user_id: int, channel_ids: list[int]
) -> dict[int, tuple[Channel, ChannelMember]]:
    result = await session.execute(channel_store.memberships_of(user_id).where(col(Channel.id).in_(channel_ids)))
    return {int(r[0].id or 0): (r[0], r[1]) for r in result.all()}


async def _advance(session: AsyncSession, user_id: int, new_reads: dict[int, int]) -> None:
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


async def _direct_peers(session: AsyncSession, user_id: int, channel_ids: list[int]) -> dict[int, int]:
    if not channel_ids:
        return {}
    result = await session.execute(
        select(col(ChannelMember.channel_id), col(ChannelMember.user_id)).where(
            col(ChannelMember.channel_id).in_(channel_ids), col(ChannelMember.user_id) != user_id
        )
    )
    return {int(c): int(u) for c, u in result.all()}


async def _senders_between(
    session: AsyncSession, moves: dict[int, tuple[int, int]], *, exclude: int
) -> dict[int, list[int]]:
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
