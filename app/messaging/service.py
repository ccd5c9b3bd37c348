"""Sending, recalling, history and channel sync: the messaging rules on top of the
channel log (`app/channels/log.py`), which owns pts, the writes and delivery.

A sender gets its answer only once the message is durable; a retry with the same
`client_msg_id` returns the original message and stores nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import store as account_store
from app.channels import log_store
from app.channels import store as channel_store
from app.channels.log import ChannelLog, ExtraCheck, MessageDraft, Sent
from app.channels.tables import Channel, ChannelMember
from app.config import Settings
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.messaging import store
from app.messaging.content import MessageType, check_content, check_meta
from app.messaging.policy import AttachmentRules, CardRecorder, ModerationRules
from app.messaging.tables import Message, RevokedMessageAudit
from app.messaging.views import AnyEvent, AnyMessage
from app.metrics import Metrics
from app.principal import Principal

CLIENT_MSG_ID_RE = re.compile(r"^[\x21-\x7e]{1,64}\Z")
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
    replies: dict[int, Message] = field(default_factory=dict)  # quoted originals by id


@dataclass(frozen=True, slots=True)
class Difference:
    channel_id: int
    events: list[tuple[AnyEvent, AnyMessage | None]]
    pts: int  # the channel's head when read
    next_from_pts: int
    is_final: bool
    too_long: bool  # the gap is too large: re-fetch history instead
    replies: dict[int, AnyMessage] = field(default_factory=dict)


class MessagingService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        log: ChannelLog,
        metrics: Metrics,
        group_rules: ModerationRules,
        cards: CardRecorder | None = None,
        attachments: AttachmentRules | None = None,
    ) -> None:
        self.settings = settings
        self.attachments = attachments
        self.db = db
        self.log = log
        self.metrics = metrics
        self.group_rules = group_rules
        self.cards = cards

    # -- send -----------------------------------------------------------------------------

    async def send(self, principal: Principal, req: SendRequest) -> AnyMessage:
        """`submit`, for callers that want the message only."""
        return (await self.submit(principal, req)).message

    async def submit(self, principal: Principal, req: SendRequest) -> Sent:
        """Validate the input, then append through the channel log (the checks and the
        write are one statement on PostgreSQL for plain messages). The answer carries the
        quoted original of a reply, so nobody has to read it again."""
        if not CLIENT_MSG_ID_RE.match(req.client_msg_id):
            raise bad_input("clientMsgId must be 1-64 printable ASCII characters", field="clientMsgId")
        content = check_content(req.type, req.content, max_text_length=self.settings.messaging.max_text_length)
        meta = check_meta(req.meta)
        mentions = tuple(dict.fromkeys(req.mentions))
        if len(mentions) > MAX_MENTIONS:
            raise bad_input(f"at most {MAX_MENTIONS} mentions", field="mentions")
        draft = MessageDraft(
            channel_id=req.channel_id,
            sender_id=principal.user_id,
            client_msg_id=req.client_msg_id,
            type=req.type.value,
            content=content,
            meta=meta,
            reply_to_id=req.reply_to_id,
            mentions=mentions,
            mention_all=req.mention_all,
        )
        extra = self._card_check(draft) if req.type is MessageType.CARD else None
        if self.attachments is not None and draft.type in self.attachments.kinds:
            extra = self._attachment_check(draft, self.attachments)
        sent = await self.log.send(draft, extra_check=extra)
        if sent.created:
            self.metrics.messages_sent.inc()
        return sent

    def _card_check(self, draft: MessageDraft) -> ExtraCheck:
        card_user_id = int(draft.content["userId"])

        async def check(tx: Transaction, recipients: list[int]) -> None:
            if self.cards is not None:
                await self.cards.check_and_record(
                    tx, sharer_id=draft.sender_id, card_user_id=card_user_id, recipients=recipients
                )
                return
            card_user = await account_store.get_user(tx.session, card_user_id)
            if card_user is None or card_user.disabled:
                raise bad_input("the card's user does not exist", field="userId")

        return check

    @staticmethod
    def _attachment_check(draft: MessageDraft, rules: AttachmentRules) -> ExtraCheck:
        async def check(tx: Transaction, recipients: list[int]) -> None:
            checked = await rules.check_send(tx.session, draft.sender_id, draft.type, draft.content)
            # The stored message carries the server's facts (the draft's dict is the content).
            draft.content.clear()
            draft.content.update(checked)

        return check

    # -- revoke ---------------------------------------------------------------------------

    async def revoke(self, principal: Principal, message_id: int) -> Message:
        """Recall a message: the sender within the revoke window, a group's owner or admins
        at any time. The content is erased everywhere (kept in the audit table only when
        `security.keep_revoked_audit` is on); a revoke event and a system line follow."""
        now = now_ms()
        async with self.db.transaction() as tx:
            session = tx.session
            message, channel, member = await self.log.member_message(session, message_id, principal.user_id, lock=True)
            if message.type == MessageType.SYSTEM.value:
                raise bad_input("system lines cannot be recalled", field="messageId")
            if message.revoked_at is not None:
                raise AppError(ErrorCode.CONFLICT, "the message was already recalled")
            if not self.group_rules.may_revoke_others(channel, member):
                if message.sender_id != principal.user_id:
                    raise AppError(ErrorCode.FORBIDDEN, "only the sender or a group admin can recall a message")
                window_ms = self.settings.security.revoke_window_seconds * 1000
                if now - message.created_at > window_ms:
                    raise AppError(
                        ErrorCode.FORBIDDEN,
                        f"messages can only be recalled within {self.settings.security.revoke_window_seconds} s",
                    )
            actor = await account_store.get_user(session, principal.user_id)
            name = actor.display_name if actor is not None else "Someone"
            await self._erase(tx, message, actor_id=principal.user_id, at=now, line=f"{name} recalled a message")
        return message

    async def _erase(self, tx: Transaction, message: Message, *, actor_id: int, at: int, line: str | None) -> None:
        """Erase a message's content everywhere: the audit copy when configured, the revoke
        event (so every device drops it, live or through sync) and, when `line` is given,
        a system line. Through the channel log, in `tx`."""
        session = tx.session
        message_id = message.id
        assert message_id is not None
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
                    revoked_at=at,
                    revoked_by=actor_id,
                ),
            )
        await store.erase_message(session, message_id, revoked_at=at, revoked_by=actor_id)
        if self.attachments is not None and message.type in self.attachments.kinds:
            await self.attachments.detach(session, message_id)
        await session.refresh(message)
        recipients = await channel_store.active_member_ids(session, message.channel_id)
        await self.log.append_event(
            tx,
            channel_id=message.channel_id,
            kind="revoke",
            actor_id=actor_id,
            payload={"messageId": message_id, "revokedBy": actor_id, "revokedAt": at},
            recipients=recipients,
            message_id=message_id,
        )
        if line is not None:
            await self.log.append_system_message(
                tx,
                channel_id=message.channel_id,
                actor_id=actor_id,
                text=line,
                kind="recall",
                recipients=recipients,
                data={"messageId": message_id},
            )

    async def moderate_delete(self, message_id: int, *, actor_id: int, reason: str | None) -> Message:
        """An administrator removes any message: erased like a revoke, with a system line."""
        reason = (reason or "").strip()[:200] or None
        async with self.db.transaction() as tx:
            message = await log_store.get_message(tx.session, message_id)
            if message is None:
                raise not_found("message")
            await self.log.lock(tx.session, message.channel_id)
            await tx.session.refresh(message)
            if message.type == MessageType.SYSTEM.value:
                raise bad_input("system lines cannot be removed", field="messageId")
            if message.revoked_at is not None:
                raise AppError(ErrorCode.CONFLICT, "the message was already removed")
            line = "A message was removed by an administrator" + (f": {reason}" if reason else "")
            await self._erase(tx, message, actor_id=actor_id, at=now_ms(), line=line)
        return message

    async def erase_all_of(self, sender_id: int, *, actor_id: int, batch: int = 200) -> int:
        """Erase every message a user sent (account deletion), a batch per transaction;
        each erased message gets its revoke event, no system line."""
        erased = 0
        while True:
            async with self.db.transaction() as tx:
                rows = await store.live_messages_of(tx.session, sender_id, limit=batch)
                # Channels locked in id order (as every multi-channel writer must), once each.
                for channel_id in sorted({m.channel_id for m in rows}):
                    await self.log.lock(tx.session, channel_id)
                now = now_ms()
                for message in rows:
                    await tx.session.refresh(message)
                    await self._erase(tx, message, actor_id=actor_id, at=now, line=None)
            erased += len(rows)
            if len(rows) < batch:
                return erased

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
            channel, member = await self.log.membership(session, channel_id, principal.user_id)
            low = max(after_pts or 0, member.visible_from_pts)
            high = min(before_pts if before_pts is not None else channel.pts + 1, channel.pts + 1)
            rows = list(
                await log_store.messages_page(
                    session, channel_id, low=low, high=high, limit=limit + 1, newest_first=newest_first
                )
            )[: limit + 1]
            replies = await self._replies(session, rows[:limit])
        return HistoryPage(messages=rows[:limit], has_more=len(rows) > limit, replies=replies)

    async def around(self, principal: Principal, message_id: int, *, limit: int) -> tuple[HistoryPage, HistoryPage]:
        """Messages before and after one message (which is included in the second page)."""
        _check_limit(limit, MAX_HISTORY_PAGE)
        async with self.db.read() as session:
            # One answer for a missing message and someone else's: existence never leaks.
            message, channel, member = await self.log.member_message(session, message_id, principal.user_id)
            half = max(1, limit // 2)
            before = list(
                await log_store.messages_page(
                    session,
                    channel.id or 0,
                    low=member.visible_from_pts,
                    high=message.pts,
                    limit=half + 1,
                    newest_first=True,
                )
            )
            after = list(
                await log_store.messages_page(
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
        max_gap = self.settings.messaging.max_difference
        if not self.db.is_sqlite:  # the sync hot path: one statement on the driver
            page = await log_store.difference_page(
                self.db, channel_id, principal.user_id, after=from_pts, limit=limit, max_gap=max_gap
            )
            if page is None:
                raise not_found("channel")
            head, start = page.head, max(from_pts, page.visible_from)
            rows: list[tuple[AnyEvent, AnyMessage | None]] = list(page.events)
            replies: dict[int, AnyMessage] = dict(page.replies)
        else:
            async with self.db.read() as session:
                channel, member = await self.log.membership(session, channel_id, principal.user_id)
                head, start = channel.pts, max(from_pts, member.visible_from_pts)
                rows = []
                if from_pts <= head and head - start <= max_gap:
                    rows = list(await log_store.events_after(session, channel_id, after=start, upto=head, limit=limit))
                stored = [m for _, m in rows if isinstance(m, Message)]
                replies = dict(await self._replies(session, stored))
        if from_pts > head:
            raise bad_input(f"fromPts ({from_pts}) is beyond the channel's pts ({head})", field="fromPts")
        if head - start > max_gap:
            return Difference(channel_id, [], head, head, True, True)
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
        return await log_store.messages_by_id(session, sorted({m.reply_to_id for m in messages if m.reply_to_id}))

    async def channel_pts(self, principal: Principal, channel_id: int) -> tuple[Channel, ChannelMember]:
        async with self.db.read() as session:
            return await self.log.membership(session, channel_id, principal.user_id)


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise bad_input(f"limit must be 1..{maximum}", field="limit")
