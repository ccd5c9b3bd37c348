"""Sending, history and channel sync.

Every stored channel event takes the channel's next pts in the transaction that stores
it (`channels.store.next_pts`), and is delivered live only after that commit. A sender
gets its answer only once the message is durable; a retry with the same
`client_msg_id` returns the original message and stores nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels import store as channel_store
from app.channels.tables import Channel, ChannelMember
from app.config import Settings
from app.context import Principal
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.events import EventHub
from app.messaging import store
from app.messaging.content import MessageType, check_content, check_meta
from app.messaging.policy import MessagePolicy
from app.messaging.tables import ChannelEvent, Message
from app.messaging.views import event_dict
from app.metrics import Metrics

CLIENT_MSG_ID_RE = re.compile(r"^[\x21-\x7e]{1,64}$")
MAX_HISTORY_PAGE = 100
MAX_DIFFERENCE_PAGE = 500
MAX_MENTIONS = 50


@dataclass(frozen=True, slots=True)
class SendRequest:
    channel_id: int
    client_msg_id: str
    type: MessageType
    content: dict[str, Any]
    meta: dict[str, Any] | None = None
    reply_to_id: int | None = None
    mentions: tuple[int, ...] = ()
    mention_all: bool = False


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[Message]
    has_more: bool


@dataclass(frozen=True, slots=True)
class Difference:
    channel_id: int
    events: list[tuple[ChannelEvent, Message | None]]
    pts: int  # the channel's head when read
    next_from_pts: int
    is_final: bool
    too_long: bool  # the gap is too large: re-fetch history instead


class MessagingService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        hub: EventHub,
        policy: MessagePolicy,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.db = db
        self.hub = hub
        self.policy = policy
        self.metrics = metrics

    # -- membership -----------------------------------------------------------------------

    async def require_member(
        self, session: AsyncSession, channel_id: int, user_id: int
    ) -> tuple[Channel, ChannelMember]:
        """The channel and the caller's active membership. A channel the caller is not in
        is reported exactly like one that does not exist: existence never leaks."""
        member = await channel_store.get_member(session, channel_id, user_id)
        if member is None or member.left_at is not None:
            raise not_found("channel")
        channel = await channel_store.get_channel(session, channel_id)
        if channel is None or channel.deleted_at is not None:
            raise not_found("channel")
        return channel, member

    # -- send -----------------------------------------------------------------------------

    async def send(self, principal: Principal, req: SendRequest) -> Message:
        if not CLIENT_MSG_ID_RE.match(req.client_msg_id):
            raise bad_input("clientMsgId must be 1-64 printable ASCII characters", field="clientMsgId")
        content = check_content(req.type, req.content, max_text_length=self.settings.messaging.max_text_length)
        meta = check_meta(req.meta)
        mentions = tuple(dict.fromkeys(req.mentions))
        if len(mentions) > MAX_MENTIONS:
            raise bad_input(f"at most {MAX_MENTIONS} mentions", field="mentions")
        user_id = principal.user_id
        async with self.db.read() as session:
            existing = await store.find_by_client_id(session, user_id, req.client_msg_id)
        if existing is not None:
            return existing
        try:
            async with self.db.transaction() as tx:
                message = await self._store_message(tx, principal, req, content, meta, mentions)
        except IntegrityError:
            # A concurrent retry with the same client id won the race: return its message.
            async with self.db.read() as session:
                existing = await store.find_by_client_id(session, user_id, req.client_msg_id)
            if existing is None:
                raise
            return existing
        self.metrics.messages_sent.inc()
        return message

    async def _store_message(
        self,
        tx: Transaction,
        principal: Principal,
        req: SendRequest,
        content: dict[str, Any],
        meta: dict[str, Any] | None,
        mentions: tuple[int, ...],
    ) -> Message:
        session = tx.session
        channel, member = await self.require_member(session, req.channel_id, principal.user_id)
        now = now_ms()
        member_ids = await channel_store.active_member_ids(session, req.channel_id)
        await self._check_may_send(session, channel, member, member_ids, now)
        if req.reply_to_id is not None:
            replied = await store.get_message(session, req.reply_to_id)
            if replied is None or replied.channel_id != channel.id or replied.pts <= member.visible_from_pts:
                raise bad_input("replyTo must be a message of this channel", field="replyToId")
        if any(m not in member_ids for m in mentions):
            raise bad_input("only members of the channel can be mentioned", field="mentions")
        message = await self._append_message(
            tx,
            channel_id=req.channel_id,
            sender_id=principal.user_id,
            client_msg_id=req.client_msg_id,
            kind=req.type.value,
            content=content,
            meta=meta,
            reply_to_id=req.reply_to_id,
            mentions=list(mentions) or None,
            mention_all=req.mention_all,
            recipients=member_ids,
            at=now,
        )
        return message

    async def _check_may_send(
        self, session: AsyncSession, channel: Channel, member: ChannelMember, member_ids: list[int], now: int
    ) -> None:
        if member.muted_until is not None and member.muted_until > now:
            raise AppError(ErrorCode.FORBIDDEN, "you are muted in this channel")
        if channel.kind == "direct":
            for peer in member_ids:
                if peer != member.user_id:
                    await self.policy.check_may_message(session, member.user_id, peer)

    async def _append_message(
        self,
        tx: Transaction,
        *,
        channel_id: int,
        sender_id: int,
        client_msg_id: str,
        kind: str,
        content: dict[str, Any],
        meta: dict[str, Any] | None,
        reply_to_id: int | None,
        mentions: list[int] | None,
        mention_all: bool,
        recipients: list[int],
        at: int,
    ) -> Message:
        """Store a message as the channel's next event; deliver it after commit."""
        session = tx.session
        pts = await channel_store.next_pts(session, channel_id, at)
        message = await store.insert_message(
            session,
            Message(
                channel_id=channel_id,
                pts=pts,
                sender_id=sender_id,
                client_msg_id=client_msg_id,
                type=kind,
                content=content,
                meta=meta,
                reply_to_id=reply_to_id,
                mentions=mentions,
                mention_all=mention_all,
                created_at=at,
            ),
        )
        assert message.id is not None
        event = ChannelEvent(
            channel_id=channel_id, pts=pts, kind="message", actor_id=sender_id, message_id=message.id, created_at=at
        )
        await store.insert_event(session, event)
        await store.set_last_message(session, channel_id, message.id)
        # The sender has read its own message; a new message unhides the conversation.
        await session.execute(
            update(ChannelMember)
            .where(
                col(ChannelMember.channel_id) == channel_id,
                col(ChannelMember.user_id) == sender_id,
                col(ChannelMember.read_pts) < pts,
            )
            .values(read_pts=pts)
        )
        await session.execute(
            update(ChannelMember)
            .where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.hidden).is_(True))
            .values(hidden=False)
        )
        tx.after_commit(self.hub.deliver, recipients, event_dict(event, message))
        return message

    # -- events for other domains (groups, reactions, pins...) ------------------------------

    async def append_event(
        self,
        tx: Transaction,
        *,
        channel_id: int,
        kind: str,
        actor_id: int | None,
        payload: dict[str, Any],
        recipients: list[int],
        message_id: int | None = None,
    ) -> int:
        """Store a non-message channel event as the channel's next pts (in `tx`) and deliver
        it to `recipients` after commit. The one way any domain adds to a channel's log."""
        at = now_ms()
        pts = await channel_store.next_pts(tx.session, channel_id, at)
        event = ChannelEvent(
            channel_id=channel_id,
            pts=pts,
            kind=kind,
            actor_id=actor_id,
            message_id=message_id,
            payload=payload,
            created_at=at,
        )
        await store.insert_event(tx.session, event)
        message = await store.get_message(tx.session, message_id) if message_id is not None else None
        tx.after_commit(self.hub.deliver, recipients, event_dict(event, message))
        return pts

    async def append_system_message(
        self,
        tx: Transaction,
        *,
        channel_id: int,
        actor_id: int,
        text: str,
        kind: str,
        recipients: list[int],
        data: dict[str, Any] | None = None,
    ) -> Message:
        """A system line ("Ann invited Bob") stored as a message of type `system`, so it shows
        in history, sync and conversation previews like any message."""
        at = now_ms()
        content: dict[str, Any] = {"text": text, "kind": kind}
        if data:
            content["data"] = data
        return await self._append_message(
            tx,
            channel_id=channel_id,
            sender_id=actor_id,
            client_msg_id=f"sys-{uuid.uuid4().hex}",  # unique: the actor may write several lines at once
            kind=MessageType.SYSTEM.value,
            content=content,
            meta=None,
            reply_to_id=None,
            mentions=None,
            mention_all=False,
            recipients=recipients,
            at=at,
        )

    # -- history --------------------------------------------------------------------------

    async def history(
        self,
        principal: Principal,
        channel_id: int,
        *,
        before_pts: int | None,
        after_pts: int | None,
        limit: int,
        newest_first: bool,
    ) -> HistoryPage:
        _check_limit(limit, MAX_HISTORY_PAGE)
        for name, value in (("beforePts", before_pts), ("afterPts", after_pts)):
            if value is not None and value < 0:
                raise bad_input(f"{name} must be >= 0", field=name)
        async with self.db.read() as session:
            channel, member = await self.require_member(session, channel_id, principal.user_id)
            low = max(after_pts or 0, member.visible_from_pts)
            high = min(before_pts if before_pts is not None else channel.pts + 1, channel.pts + 1)
            rows = list(
                await store.messages_page(
                    session, channel_id, low=low, high=high, limit=limit + 1, newest_first=newest_first
                )
            )
        return HistoryPage(messages=rows[:limit], has_more=len(rows) > limit)

    async def around(self, principal: Principal, message_id: int, *, limit: int) -> tuple[HistoryPage, HistoryPage]:
        """Messages before and after one message (which is included in the second page)."""
        _check_limit(limit, MAX_HISTORY_PAGE)
        async with self.db.read() as session:
            message = await store.get_message(session, message_id)
            if message is None:
                raise not_found("message")
            channel, member = await self.require_member(session, message.channel_id, principal.user_id)
            if message.pts <= member.visible_from_pts:
                raise not_found("message")
            half = max(1, limit // 2)
            before = list(
                await store.messages_page(
                    session,
                    channel.id or 0,
                    low=member.visible_from_pts,
                    high=message.pts,
                    limit=half + 1,
                    newest_first=True,
                )
            )
            after = list(
                await store.messages_page(
                    session,
                    channel.id or 0,
                    low=message.pts - 1,
                    high=channel.pts + 1,
                    limit=limit - half + 1,
                    newest_first=False,
                )
            )
        older = HistoryPage(messages=list(reversed(before[:half])), has_more=len(before) > half)
        newer = HistoryPage(messages=after[: limit - half], has_more=len(after) > limit - half)
        return older, newer

    # -- sync -----------------------------------------------------------------------------

    async def difference(self, principal: Principal, channel_id: int, *, from_pts: int, limit: int) -> Difference:
        _check_limit(limit, MAX_DIFFERENCE_PAGE)
        if from_pts < 0:
            raise bad_input("fromPts must be >= 0", field="fromPts")
        async with self.db.read() as session:
            channel, member = await self.require_member(session, channel_id, principal.user_id)
            head = channel.pts
            if from_pts > head:
                raise bad_input(f"fromPts ({from_pts}) is beyond the channel's pts ({head})", field="fromPts")
            start = max(from_pts, member.visible_from_pts)
            if head - start > self.settings.messaging.max_difference:
                return Difference(channel_id, [], head, head, True, True)
            rows = list(await store.events_after(session, channel_id, after=start, upto=head, limit=limit))
        next_from = rows[-1][0].pts if rows else head
        return Difference(
            channel_id=channel_id,
            events=rows,
            pts=head,
            next_from_pts=next_from,
            is_final=next_from >= head,
            too_long=False,
        )

    async def channel_pts(self, principal: Principal, channel_id: int) -> tuple[Channel, ChannelMember]:
        async with self.db.read() as session:
            return await self.require_member(session, channel_id, principal.user_id)


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise bad_input(f"limit must be 1..{maximum}", field="limit")
