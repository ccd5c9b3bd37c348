"""Forwarding: copies of one or many messages into one or many channels.

A copy keeps the original's type, content and client metadata, and is marked with
`forwarded_from_id`: the original message (forwarding a forward points at the first
one). Replies and mentions are not copied: they belong to the source channel.

Rules, in order:
- the request: 1..MAX_FORWARD_MESSAGES messages, 1..MAX_FORWARD_TARGETS channels
  (duplicates ignored), a `requestId` like a clientMsgId;
- every source message must be one the caller sees now (a member of its channel, not
  from before they could see it), not recalled and not a system line, from a channel
  that allows forwarding (a group's `forbid_forward`). Otherwise the whole request
  fails before anything is stored; unknown and foreign messages alike are NOT_FOUND;
- each target is checked exactly like a send (membership, mutes, the direct-chat
  policy: `ChannelLog.check_may_send`) and written in its own transaction: a
  target gets all the copies, contiguous in pts, or none. One target failing does not
  stop the others; the answer has one result per target, with the error code of a
  refused one.

Retries: the copy of source S in channel C gets the clientMsgId derived from
(requestId, S, C), so repeating a request (whole, or after a partial failure) stores
only what is missing and returns the originals for the rest, as `message/send` does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import log_store
from app.channels import store as channel_store
from app.channels.log import ChannelLog, MessageDraft
from app.channels.tables import Channel
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input
from app.messaging import store
from app.messaging.content import MessageType
from app.messaging.policy import CardRecorder
from app.messaging.service import CLIENT_MSG_ID_RE
from app.messaging.tables import Message
from app.messaging.views import AnyMessage
from app.metrics import Metrics
from app.principal import Principal

MAX_FORWARD_MESSAGES = 50
MAX_FORWARD_TARGETS = 20


@dataclass(frozen=True, slots=True)
class ForwardResult:
    channel_id: int
    messages: list[AnyMessage]  # the copies, in the order of their sources; empty when refused
    error: AppError | None = None


class ForwardSourceRules(Protocol):
    """What forwarding asks of the groups domain (implemented in app/groups/sending.py)."""

    async def check_may_forward_from(self, session: AsyncSession, channel: Channel) -> None:
        """Raise AppError when the channel does not allow forwarding its messages."""
        ...


def forward_client_msg_id(request_id: str, source_id: int, channel_id: int) -> str:
    """The clientMsgId of one copy: deterministic, so a retried request finds its copies."""
    digest = hashlib.sha256(f"{request_id}\n{source_id}\n{channel_id}".encode()).hexdigest()
    return f"fwd-{digest[:40]}"


def origin_of(source: Message) -> int:
    assert source.id is not None
    return source.forwarded_from_id or source.id


class ForwardService:
    def __init__(
        self,
        *,
        db: Database,
        log: ChannelLog,
        metrics: Metrics,
        source_rules: ForwardSourceRules | None = None,
        cards: CardRecorder | None = None,
    ) -> None:
        self.db = db
        self.log = log
        self.metrics = metrics
        self.source_rules = source_rules
        self.cards = cards  # forwarding a card shares it: the same rule as sending one

    async def forward(
        self, principal: Principal, *, request_id: str, message_ids: Sequence[int], channel_ids: Sequence[int]
    ) -> list[ForwardResult]:
        if not CLIENT_MSG_ID_RE.match(request_id):
            raise bad_input("requestId must be 1-64 printable ASCII characters", field="requestId")
        source_ids = list(dict.fromkeys(message_ids))
        targets = list(dict.fromkeys(channel_ids))
        if not 1 <= len(source_ids) <= MAX_FORWARD_MESSAGES:
            raise bad_input(f"messageIds must hold 1..{MAX_FORWARD_MESSAGES} ids", field="messageIds")
        if not 1 <= len(targets) <= MAX_FORWARD_TARGETS:
            raise bad_input(f"channelIds must hold 1..{MAX_FORWARD_TARGETS} ids", field="channelIds")
        async with self.db.read() as session:
            sources = await self._sources(session, principal.user_id, source_ids)
        results = []
        for channel_id in targets:
            try:
                copies = await self._forward_to(principal, request_id, sources, channel_id)
            except AppError as exc:
                results.append(ForwardResult(channel_id, [], exc))
            else:
                results.append(ForwardResult(channel_id, copies))
        return results

    async def _sources(self, session: AsyncSession, user_id: int, ids: list[int]) -> list[Message]:
        """The messages to forward, oldest first (the conversation's order, not the order
        in which they were picked)."""
        messages = await log_store.messages_by_id(session, ids)
        visible_from = await store.visible_from_pts(session, user_id, {m.channel_id for m in messages.values()})
        for message_id in ids:
            m = messages.get(message_id)
            if m is None or m.channel_id not in visible_from or m.pts <= visible_from[m.channel_id]:
                raise AppError(ErrorCode.NOT_FOUND, "message not found", messageId=str(message_id))
            if m.revoked_at is not None:
                raise AppError(ErrorCode.CONFLICT, "a recalled message cannot be forwarded", messageId=str(message_id))
            if m.type == MessageType.SYSTEM.value:
                raise bad_input("system lines cannot be forwarded", field="messageIds", messageId=str(message_id))
        if self.source_rules is not None:
            for channel_id in sorted({m.channel_id for m in messages.values()}):
                channel = await channel_store.get_channel(session, channel_id)
                if channel is not None:  # visible_from_pts only lists live channels
                    await self.source_rules.check_may_forward_from(session, channel)
        return sorted(messages.values(), key=lambda m: m.id or 0)

    async def _forward_to(
        self, principal: Principal, request_id: str, sources: list[Message], channel_id: int
    ) -> list[AnyMessage]:
        user_id = principal.user_id
        wanted = [(s, forward_client_msg_id(request_id, s.id or 0, channel_id)) for s in sources]
        async with self.db.read() as session:
            done: dict[str, AnyMessage] = dict(await log_store.by_client_ids(session, user_id, [c for _, c in wanted]))
        missing = [(s, c) for s, c in wanted if c not in done]
        if missing:
            try:
                async with self.db.transaction() as tx:
                    stored = await self._store_copies(tx, principal, channel_id, missing)
            except IntegrityError:
                # A concurrent retry of the same request stored the copies first.
                async with self.db.read() as session:
                    done = dict(await log_store.by_client_ids(session, user_id, [c for _, c in wanted]))
                if len(done) < len(wanted):
                    raise
            else:
                self.metrics.messages_sent.inc(len(stored))
                done.update(stored)
        copies = [done[c] for _, c in wanted]
        for (source, _), copy in zip(wanted, copies, strict=True):
            # Only a clientMsgId forged to look like a copy's gets here.
            if copy.channel_id != channel_id or copy.forwarded_from_id != origin_of(source):
                raise AppError(ErrorCode.CONFLICT, "requestId was already used for another message")
        return copies

    async def _store_copies(
        self, tx: Transaction, principal: Principal, channel_id: int, copies: list[tuple[Message, str]]
    ) -> dict[str, AnyMessage]:
        now = now_ms()
        _channel, _member, recipients = await self.log.check_may_send(tx.session, channel_id, principal.user_id, now)
        if self.cards is not None:
            for source, _ in copies:
                if source.type == MessageType.CARD.value:
                    card_user_id = int(source.content["userId"])
                    await self.cards.check_and_record(
                        tx, sharer_id=principal.user_id, card_user_id=card_user_id, recipients=recipients
                    )
        drafts = [
            MessageDraft(
                channel_id=channel_id,
                sender_id=principal.user_id,
                client_msg_id=client_msg_id,
                type=source.type,
                content=dict(source.content),
                meta=dict(source.meta) if source.meta is not None else None,
                forwarded_from_id=origin_of(source),
            )
            for source, client_msg_id in copies
        ]
        stored = await self.log.append_messages(tx, drafts, recipients=recipients, at=now)
        return {m.client_msg_id: m for m in stored}
