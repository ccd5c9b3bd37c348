"""Channel rules: direct channels between two users, the conversation list, channel
state for sync."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app import paging
from app.accounts import store as account_store
from app.channels import log_store, store
from app.channels.log import DirectPolicy
from app.channels.tables import Channel, ChannelMember
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import bad_input, not_found
from app.messaging.tables import Message
from app.principal import Principal
from app.sync.updates import UserUpdates

MAX_LIST_PAGE = 100
MAX_PINNED_CONVERSATIONS = 20
MAX_PTS_PAGE = 1000
# `syncTime` is set this far back: a transaction that began before the sync read (its
# channel's last_event_at is older) but committed after it is still caught next time.
SYNC_OVERLAP_MS = 60_000


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """One row of the conversation list, as the member sees it."""

    channel: Channel
    member: ChannelMember
    peer_id: int | None
    last_message: Message | None
    unread: int


@dataclass(frozen=True, slots=True)
class ChannelPage:
    entries: list[ChannelEntry]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PtsPage:
    channels: list[tuple[Channel, ChannelMember]]
    next_cursor: str | None
    sync_time: int  # pass as `changedSince` next time


def _pair(parts: tuple[int, ...] | None) -> tuple[int, int] | None:
    return None if parts is None else (parts[0], parts[1])


class ChannelService:
    def __init__(self, *, db: Database, updates: UserUpdates, policy: DirectPolicy | None = None) -> None:
        self.db = db
        self.updates = updates
        self.policy = policy

    async def get_or_create_direct(self, tx: Transaction, a: int, b: int) -> tuple[Channel, bool]:
        """The one direct channel of users `a` and `b` (created if needed, race-free).
        Both users get a `channel_added` update when it is created."""
        if a == b:
            raise bad_input("a direct channel needs two different users", field="userId")
        key = store.direct_key(a, b)
        now = now_ms()
        created = await store.insert_direct(tx.session, key, now)
        channel = await store.get_direct(tx.session, key)
        assert channel is not None and channel.id is not None
        if created:
            for user_id in (a, b):
                await store.add_member(
                    tx.session, ChannelMember(channel_id=channel.id, user_id=user_id, role="member", joined_at=now)
                )
            for user_id in (a, b):
                await self.updates.append(tx, user_id, "channel_added", {"channelId": channel.id, "kind": "direct"})
        return channel, created

    async def open_direct(self, principal: Principal, user_id: int) -> ChannelEntry:
        """`channel/direct/get_or_create`: only with someone the caller may message."""
        if user_id == principal.user_id:
            raise bad_input("cannot open a direct channel with yourself", field="userId")
        async with self.db.transaction() as tx:
            target = await account_store.get_user(tx.session, user_id)
            if target is None or target.disabled:
                raise not_found("user")
            existing = await store.get_direct(tx.session, store.direct_key(principal.user_id, user_id))
            if existing is None and self.policy is not None:
                await self.policy.check_may_message(tx.session, principal.user_id, user_id)
            channel, _ = await self.get_or_create_direct(tx, principal.user_id, user_id)
        return await self.info(principal, channel.id or 0)

    async def list_channels(self, principal: Principal, *, cursor: str | None, limit: int) -> ChannelPage:
        """Conversations: pinned first (on the first page), then by latest activity;
        hidden ones left out until a new message unhides them."""
        paging.check_limit(limit, MAX_LIST_PAGE)
        before = _pair(paging.decode_ints(cursor, 2))
        async with self.db.read() as session:
            rows: list[tuple[Channel, ChannelMember]] = []
            if before is None:
                rows += await store.member_channels_page(
                    session, principal.user_id, pinned=True, before=None, limit=MAX_LIST_PAGE
                )
            page = list(
                await store.member_channels_page(
                    session, principal.user_id, pinned=False, before=before, limit=limit + 1
                )
            )
            more = len(page) > limit
            rows += page[:limit]
            entries = await self._entries(session, principal.user_id, rows)
        last = page[:limit][-1][0] if more and page else None
        return ChannelPage(entries, paging.encode(last.last_message_id or 0, last.id or 0) if last else None)

    async def info(self, principal: Principal, channel_id: int) -> ChannelEntry:
        async with self.db.read() as session:
            member = await store.get_member(session, channel_id, principal.user_id)
            channel = await store.get_channel(session, channel_id)
            if member is None or member.left_at is not None or channel is None or channel.deleted_at is not None:
                raise not_found("channel")
            return (await self._entries(session, principal.user_id, [(channel, member)]))[0]

    async def _entries(
        self, session: AsyncSession, user_id: int, rows: list[tuple[Channel, ChannelMember]]
    ) -> list[ChannelEntry]:
        last = await log_store.messages_by_id(session, [c.last_message_id for c, _ in rows if c.last_message_id])
        unread = await log_store.unread_counts(
            session, user_id, [(c.id or 0, max(m.read_pts, m.visible_from_pts), c.pts) for c, m in rows]
        )
        return [
            ChannelEntry(
                channel=c,
                member=m,
                peer_id=store.peer_of(c, user_id),
                last_message=last.get(c.last_message_id) if c.last_message_id else None,
                unread=unread.get(c.id or 0, 0),
            )
            for c, m in rows
        ]

    async def changed_pts(self, principal: Principal, *, changed_since: int, cursor: str | None, limit: int) -> PtsPage:
        """`sync/batch_get_channel_pts`: the pts of every channel changed since the
        client's last sync time, paged, so a first sync of thousands of channels is cheap."""
        paging.check_limit(limit, MAX_PTS_PAGE)
        if changed_since < 0:
            raise bad_input("changedSince must be >= 0", field="changedSince")
        after = _pair(paging.decode_ints(cursor, 2))
        sync_time = max(0, now_ms() - SYNC_OVERLAP_MS)
        async with self.db.read() as session:
            rows = list(
                await store.member_channels_changed(
                    session, principal.user_id, since=changed_since, after=after, limit=limit + 1
                )
            )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = paging.encode(rows[-1][0].last_event_at, rows[-1][0].id or 0) if more else None
        return PtsPage(rows, next_cursor, sync_time)

    async def update_settings(
        self,
        principal: Principal,
        channel_id: int,
        *,
        pinned: bool | None = None,
        hidden: bool | None = None,
        muted: bool | None = None,
    ) -> ChannelEntry:
        """The member's own conversation settings (pin, hide, mute notifications), synced to
        the member's other devices as a user update. Muted channels still sync."""
        values: dict[str, object] = {}
        async with self.db.transaction() as tx:
            member = await store.get_member(tx.session, channel_id, principal.user_id)
            channel = await store.get_channel(tx.session, channel_id)
            if member is None or member.left_at is not None or channel is None or channel.deleted_at is not None:
                raise not_found("channel")
            if pinned is not None and pinned != (member.pinned_at is not None):
                if pinned and await store.count_pinned(tx.session, principal.user_id) >= MAX_PINNED_CONVERSATIONS:
                    raise bad_input(f"at most {MAX_PINNED_CONVERSATIONS} pinned conversations", field="pinned")
                values["pinned_at"] = now_ms() if pinned else None
            if hidden is not None and hidden != member.hidden:
                values["hidden"] = hidden
            if muted is not None and muted != member.notify_muted:
                values["notify_muted"] = muted
            if values:
                await store.update_member(tx.session, channel_id, principal.user_id, values)
                await tx.session.refresh(member)
                await self.updates.append(
                    tx,
                    principal.user_id,
                    "conversation_settings",
                    {
                        "channelId": channel_id,
                        "pinned": member.pinned_at is not None,
                        "hidden": member.hidden,
                        "muted": member.notify_muted,
                    },
                )
        return await self.info(principal, channel_id)
