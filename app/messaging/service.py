"""Sending, history and channel sync.

Every stored channel event takes the channel's next pts in the transaction that stores
it (`channels.store.next_pts`), and is delivered live only after that commit. A sender
gets its answer only once the message is durable; a retry with the same
`client_msg_id` returns the original message and stores nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import case, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts import store as account_store
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
from app.messaging.policy import CardRecorder, MessagePolicy
from app.messaging.tables import ChannelEvent, Message, RevokedMessageAudit
from app.messaging.views import event_dict
from app.metrics import Metrics

CLIENT_MSG_ID_RE = re.compile(r"^[\x21-\x7e]{1,64}$")
MAX_HISTORY_PAGE = 100
MAX_DIFFERENCE_PAGE = 500
MAX_MENTIONS = 50


class GroupRules(Protocol):
    """What sending asks of the groups domain (implemented in app/groups/sending.py)."""

    async def check_may_send(
        self, session: AsyncSession, channel: Channel, member: ChannelMember, now: int
    ) -> list[int]:
        """Raise AppError unless the member may send to the group now; the recipients."""
        ...


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
    replies: dict[int, Message] = field(default_factory=dict)  # quoted originals by id


@dataclass(frozen=True, slots=True)
class Difference:
    channel_id: int
    events: list[tuple[ChannelEvent, Message | None]]
    pts: int  # the channel's head when read
    next_from_pts: int
    is_final: bool
    too_long: bool  # the gap is too large: re-fetch history instead
    replies: dict[int, Message] = field(default_factory=dict)


class MessagingService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        hub: EventHub,
        policy: MessagePolicy,
        metrics: Metrics,
        group_rules: GroupRules | None = None,
        cards: CardRecorder | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.hub = hub
        self.policy = policy
        self.metrics = metrics
        self.group_rules = group_rules
        self.cards = cards

    # -- membership -----------------------------------------------------------------------

    async def require_member(
        self, session: AsyncSession, channel_id: int, user_id: int
    ) -> tuple[Channel, ChannelMember]:
        """The channel and the caller's active membership. A channel the caller is not in
        is reported exactly like one that does not exist: existence never leaks."""
        found = await channel_store.get_membership(session, channel_id, user_id)
        if found is None:
            raise not_found("channel")
        return found

    # -- send -----------------------------------------------------------------------------

    async def send(self, principal: Principal, req: SendRequest) -> Message:
        if not CLIENT_MSG_ID_RE.match(req.client_msg_id):
            raise bad_input("clientMsgId must be 1-64 printable ASCII characters", field="clientMsgId")
        content = check_content(req.type, req.content, max_text_length=self.settings.messaging.max_text_length)
        meta = check_meta(req.meta)
        mentions = tuple(dict.fromkeys(req.mentions))
        if len(mentions) > MAX_MENTIONS:
            raise bad_input(f"at most {MAX_MENTIONS} mentions", field="mentions")
        try:
            async with self.db.transaction() as tx:
                message = await self._store_message(tx, principal, req, content, meta, mentions)
        except (IntegrityError, AppError):
            # A retry of a message that is already stored (the unique (sender, client id)
            # refused it, or the channel has changed since) returns the original. Looking
            # only on failure keeps the common path one transaction.
            async with self.db.read() as session:
                existing = await store.find_by_client_id(session, principal.user_id, req.client_msg_id)
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
        replied = None
        if req.reply_to_id is not None:
            replied = await store.get_message(session, req.reply_to_id)
            if replied is None or replied.channel_id != channel.id or replied.pts <= member.visible_from_pts:
                raise bad_input("replyTo must be a message of this channel", field="replyToId")
        if req.mention_all and channel.kind == "group" and member.role not in ("owner", "admin"):
            raise AppError(ErrorCode.FORBIDDEN, "only group owners and admins can mention everyone")
        if req.type is MessageType.CARD:
            card_user = await account_store.get_user(session, content["userId"])
            if card_user is None or card_user.disabled:
                raise bad_input("the card's user does not exist", field="userId")
            if self.cards is not None:
                for recipient in member_ids:
                    if recipient != principal.user_id:
                        await self.cards.record_card(
                            tx, from_user_id=principal.user_id, to_user_id=recipient, card_user_id=card_user.id or 0
                        )
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
            reply=replied,
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
        if channel.kind == "group" and self.group_rules is not None:
            # Mutes and mute-all; the rules lock the group first and re-read its members,
            # so a member removed concurrently is neither sender nor recipient.
            member_ids[:] = await self.group_rules.check_may_send(session, channel, member, now)

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
        reply: Message | None = None,
        forwarded_from_id: int | None = None,
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
                forwarded_from_id=forwarded_from_id,
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
        is_sender = col(ChannelMember.user_id) == sender_id
        await session.execute(
            update(ChannelMember)
            .where(col(ChannelMember.channel_id) == channel_id, is_sender | col(ChannelMember.hidden).is_(True))
            .values(
                read_pts=case(
                    (is_sender & (col(ChannelMember.read_pts) < pts), pts), else_=col(ChannelMember.read_pts)
                ),
                hidden=False,
            )
            .execution_options(synchronize_session=False)
        )
        if mentions or mention_all:
            # The conversation shows "mentioned" until read past the latest mention.
            mentioned = col(ChannelMember.user_id) != sender_id
            if not mention_all:
                mentioned = mentioned & col(ChannelMember.user_id).in_(mentions or [])
            await session.execute(
                update(ChannelMember)
                .where(col(ChannelMember.channel_id) == channel_id, col(ChannelMember.left_at).is_(None), mentioned)
                .values(mention_pts=pts)
            )
        replies = {reply.id: reply} if reply is not None and reply.id is not None else None
        tx.after_commit(self.hub.deliver, recipients, event_dict(event, message, replies))
        return message

    # -- revoke ---------------------------------------------------------------------------

    async def revoke(self, principal: Principal, message_id: int) -> Message:
        """Recall a message: the sender within the revoke window, a group's owner or admins
        at any time. The content is erased everywhere (kept in the audit table only when
        `security.keep_revoked_audit` is on); a revoke event and a system line follow."""
        now = now_ms()
        async with self.db.transaction() as tx:
            session = tx.session
            message = await store.get_message(session, message_id)
            if message is None:
                raise not_found("message")
            channel, member = await self.require_member(session, message.channel_id, principal.user_id)
            if message.pts <= member.visible_from_pts:
                raise not_found("message")
            if message.type == MessageType.SYSTEM.value:
                raise bad_input("system lines cannot be recalled", field="messageId")
            if message.revoked_at is not None:
                raise AppError(ErrorCode.CONFLICT, "the message was already recalled")
            moderator = channel.kind == "group" and member.role in ("owner", "admin")
            if not moderator:
                if message.sender_id != principal.user_id:
                    raise AppError(ErrorCode.FORBIDDEN, "only the sender or a group admin can recall a message")
                window_ms = self.settings.security.revoke_window_seconds * 1000
                if now - message.created_at > window_ms:
                    raise AppError(
                        ErrorCode.FORBIDDEN,
                        f"messages can only be recalled within {self.settings.security.revoke_window_seconds} s",
                    )
            if self.settings.security.keep_revoked_audit:
                await store.insert_audit(
                    session,
                    RevokedMessageAudit(
                        message_id=message_id,
                        channel_id=message.channel_id,
                        sender_id=message.sender_id,
                        type=message.type,
                        content={"content": message.content, "meta": message.meta},
                        created_at=message.created_at,
                        revoked_at=now,
                        revoked_by=principal.user_id,
                    ),
                )
            await store.erase_message(session, message_id, revoked_at=now, revoked_by=principal.user_id)
            await session.refresh(message)
            recipients = await channel_store.active_member_ids(session, message.channel_id)
            await self.append_event(
                tx,
                channel_id=message.channel_id,
                kind="revoke",
                actor_id=principal.user_id,
                payload={"messageId": message_id, "revokedBy": principal.user_id, "revokedAt": now},
                recipients=recipients,
                message_id=message_id,
            )
            actor = await account_store.get_user(session, principal.user_id)
            name = actor.display_name if actor is not None else "Someone"
            await self.append_system_message(
                tx,
                channel_id=message.channel_id,
                actor_id=principal.user_id,
                text=f"{name} recalled a message",
                kind="recall",
                recipients=recipients,
                data={"messageId": message_id},
            )
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
            )[: limit + 1]
            replies = await self._replies(session, rows[:limit])
        return HistoryPage(messages=rows[:limit], has_more=len(rows) > limit, replies=replies)

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
            replies = await self._replies(session, before[:half] + after[: limit - half])
        older = HistoryPage(messages=list(reversed(before[:half])), has_more=len(before) > half, replies=replies)
        newer = HistoryPage(messages=after[: limit - half], has_more=len(after) > limit - half, replies=replies)
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
            replies = await self._replies(session, [m for _, m in rows if m is not None])
        next_from = rows[-1][0].pts if rows else head
        return Difference(
            channel_id=channel_id,
            events=rows,
            pts=head,
            next_from_pts=next_from,
            is_final=next_from >= head,
            too_long=False,
            replies=replies,
        )

    async def _replies(self, session: AsyncSession, messages: list[Message]) -> dict[int, Message]:
        return await store.messages_by_id(session, sorted({m.reply_to_id for m in messages if m.reply_to_id}))

    async def replies_of(self, messages: list[Message]) -> dict[int, Message]:
        if not any(m.reply_to_id for m in messages):
            return {}
        async with self.db.read() as session:
            return await self._replies(session, messages)

    async def channel_pts(self, principal: Principal, channel_id: int) -> tuple[Channel, ChannelMember]:
        async with self.db.read() as session:
            return await self.require_member(session, channel_id, principal.user_id)


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise bad_input(f"limit must be 1..{maximum}", field="limit")
