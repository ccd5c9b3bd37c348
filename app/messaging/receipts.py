"""Read state: marking read (one channel or hundreds in one call), unread counts, and who
read a message (honouring the privacy setting that hides read receipts).

Reading on one device is a user update for the reader's other devices (they clear their
unread badges); in a direct chat the peer gets a `peer_read` update when the reader shows
read receipts; in a group, the senders of the newly read messages get an ephemeral
`group_read` hint and ask `read_stats` for the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import log_store
from app.channels.log import ChannelLog
from app.channels.tables import Channel, ChannelMember
from app.contacts.policy import SocialPolicy
from app.db import Database, Transaction
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.events import EventHub
from app.messaging import store
from app.messaging.policy import ModerationRules
from app.messaging.tables import Message
from app.principal import Principal
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
        log: ChannelLog,
        rules: ModerationRules,
    ) -> None:
        self.db = db
        self.updates = updates
        self.hub = hub
        self.policy = policy
        self.log = log
        self.rules = rules

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
            rows = await store.memberships_among(session, user_id, list(wanted))
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
                await store.advance_reads(session, user_id, {c: new for c, (_, new) in moves.items()})
                await self._notify(tx, principal, rows, moves)
            positions = [
                (cid, max(moves.get(cid, (0, m.read_pts))[1], m.visible_from_pts), c.pts)
                for cid, (c, m) in rows.items()
                if cid not in results
            ]
            unread = await log_store.unread_counts(session, user_id, positions)
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
            peers = await store.direct_peers(session, user_id, direct)
            for channel_id, peer in peers.items():
                items.append(
                    (peer, "peer_read", {"channelId": channel_id, "userId": user_id, "readPts": moves[channel_id][1]})
                )
            groups = {c: moves[c] for c in moves if rows[c][0].kind == "group"}
            if groups:
                senders = await store.senders_between(session, groups, exclude=user_id)
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
            rows = list((await store.memberships_among(session, principal.user_id, channel_ids)).values())
            unread = await log_store.unread_counts(
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
        message, channel, member = await self.log.member_message(session, message_id, principal.user_id)
        if message.sender_id != principal.user_id and not self.rules.sees_read_receipts_of_others(channel, member):
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
            candidates = await store.readers_of(session, message, after_user_id=after_user_id, limit=limit * 2 + 1)
            visible = await self.policy.read_receipts_shown(session, candidates)
        readers = [u for u in candidates if u in visible]
        return readers[:limit], len(readers) > limit or len(candidates) > limit * 2

    async def stats(self, principal: Principal, message_id: int) -> ReadStats:
        async with self.db.read() as session:
            message = await self._message_for_receipts(session, principal, message_id)
            members = await store.read_positions(session, message)
            visible = await self.policy.read_receipts_shown(session, list(members))
        read = sum(1 for u, r in members.items() if u in visible and r >= message.pts)
        unread = sum(1 for u, r in members.items() if u in visible and r < message.pts)
        return ReadStats(message_id=message_id, read_count=read, unread_count=unread)

