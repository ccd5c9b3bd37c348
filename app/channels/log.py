"""The channel log: the one way anything is added to a channel.

Every channel event (message, system line, revoke, reaction, pin, member change) is
appended here, below the domains that decide to append it. The log owns:

- membership: who is an active member (`membership`), and the channel lock;
- "may send": membership, mutes, the direct-chat policy and the group's rules, checked
  on fresh data under the channel lock (`check_may_send`);
- pts: each event takes the channel's next pts in the transaction that stores it, so
  pts is gapless and totally ordered per channel, on every node;
- delivery: each appended event is handed to the hub after commit, never before (a
  rollback leaves no ghost push).

`send` is the hot path of the whole server. On PostgreSQL it is one statement (the
`privchat_send_message` function of migration 0007: checks and writes on fresh data
under the channel lock, one round trip), and concurrent sends share that statement and
its commit (group commit, app/db/batch.py); elsewhere, and for messages that need more
than the plain checks, it is the same rules as a transaction of Core statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import log_store, store
from app.channels.tables import Channel, ChannelMember
from app.db import Database, Transaction
from app.db.batch import Batcher
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.events import EventHub
from app.messaging.content import MessageType
from app.messaging.tables import Message
from app.messaging.views import AnyMessage, EventRecord, MessageRecord, event_dict


class DirectPolicy(Protocol):
    """What the log asks of the social graph before a direct message (app/contacts/policy.py)."""

    async def check_may_message(self, session: AsyncSession, sender_id: int, recipient_id: int) -> None:
        """Raise AppError (FORBIDDEN, neutral wording) unless sender may message recipient
        directly: not blocked either way, and the recipient's privacy allows it."""
        ...


class GroupRules(Protocol):
    """What the log asks of the groups domain before a message is stored in a group
    (app/groups/sending.py)."""

    async def check_may_send(
        self, session: AsyncSession, channel: Channel, member: ChannelMember, now: int, *, mention_all: bool
    ) -> None:
        """Raise AppError unless the member (read under the channel lock) may send now."""
        ...


@dataclass(frozen=True, slots=True)
class FastPathRules:
    """The facts of the policy tables that the one-statement send needs as parameters, so
    that the permission table and the privacy defaults stay their only owners."""

    speak_during_mute_all: frozenset[str]  # group roles that may send while the group is muted
    mention_all: frozenset[str]  # group roles that may mention everyone
    non_friends_may_message: bool  # the privacy default for users without a settings row
    cannot_message: str  # the neutral refusal of a direct message
    muted_all: str  # the refusal while the group is muted


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A message to append, validated by its domain."""

    channel_id: int
    sender_id: int
    client_msg_id: str
    type: str
    content: dict[str, Any]
    meta: dict[str, Any] | None = None
    reply_to_id: int | None = None
    forwarded_from_id: int | None = None
    mentions: tuple[int, ...] = ()
    mention_all: bool = False

    def row(self, *, pts: int, at: int) -> dict[str, Any]:
        """The message's columns (but its id), for the INSERT."""
        return {
            "channel_id": self.channel_id,
            "pts": pts,
            "sender_id": self.sender_id,
            "client_msg_id": self.client_msg_id,
            "type": self.type,
            "content": self.content,
            "meta": self.meta,
            "reply_to_id": self.reply_to_id,
            "forwarded_from_id": self.forwarded_from_id,
            "mentions": list(self.mentions) or None,
            "mention_all": self.mention_all,
            "created_at": at,
        }

    def record(self, *, message_id: int, pts: int, at: int) -> MessageRecord:
        return MessageRecord(
            id=message_id,
            channel_id=self.channel_id,
            pts=pts,
            sender_id=self.sender_id,
            client_msg_id=self.client_msg_id,
            type=self.type,
            content=self.content,
            meta=self.meta,
            reply_to_id=self.reply_to_id,
            forwarded_from_id=self.forwarded_from_id,
            mentions=list(self.mentions) or None,
            mention_all=self.mention_all,
            created_at=at,
        )


class MessageFiles(Protocol):
    """Which stored messages use which files (app/files/attachments.py): recorded in the
    appending transaction, for messages of `kinds` only (text never pays for it)."""

    kinds: frozenset[str]

    async def attach(self, session: AsyncSession, messages: Sequence[MessageRecord]) -> None: ...


# A check the caller adds to a send, run inside its transaction with the recipients.
ExtraCheck = Callable[[Transaction, list[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Sent:
    message: AnyMessage
    created: bool  # False: a retry of a message already stored (the original)
    replies: Mapping[int, AnyMessage] = field(default_factory=dict)  # the quoted original, by id


class ChannelLog:
    def __init__(
        self,
        *,
        db: Database,
        hub: EventHub,
        direct_policy: DirectPolicy,
        group_rules: GroupRules,
        fast_path: FastPathRules | None = None,
        files: MessageFiles | None = None,
        send_batch_size: int = 64,
        send_batches_in_flight: int = 2,
    ) -> None:
        self.db = db
        self.hub = hub
        self.files = files
        self.direct_policy = direct_policy
        self.group_rules = group_rules
        # The one-statement send exists on PostgreSQL only; concurrent sends share one
        # statement and one commit (group commit, app/db/batch.py).
        self.fast_path = None if db.is_sqlite else fast_path
        self._send_rules: log_store.SendRules | None = None
        self._sends: Batcher[log_store.SendRow, log_store.SendOutcome] | None = None
        if self.fast_path is not None:
            self._send_rules = log_store.SendRules(
                staff_roles=sorted(self.fast_path.speak_during_mute_all),
                mention_all_roles=sorted(self.fast_path.mention_all),
                non_friends_may_message=self.fast_path.non_friends_may_message,
            )
            self._sends = Batcher(
                self._send_batch,
                name="send",
                observe=db.batch_observer,
                max_size=send_batch_size,
                max_in_flight=send_batches_in_flight,
            )

    async def close(self) -> None:
        """Let the sends in flight finish (before the database closes)."""
        if self._sends is not None:
            await self._sends.close()

    # -- membership -----------------------------------------------------------------------

    async def membership(self, session: AsyncSession, channel_id: int, user_id: int) -> tuple[Channel, ChannelMember]:
        """The channel and the caller's active membership. A channel the caller is not in
        is reported exactly like one that does not exist: existence never leaks."""
        found = await store.get_membership(session, channel_id, user_id)
        if found is None:
            raise not_found("channel")
        return found

    async def member_message(
        self, session: AsyncSession, message_id: int, user_id: int, *, lock: bool = False
    ) -> tuple[Message, Channel, ChannelMember]:
        """A message the caller can see, with its channel and the caller's membership. An
        unknown message, one of a channel the caller is not in and one from before the
        caller could see the channel are the same NOT_FOUND "message": existence never
        leaks. With `lock`, the channel is locked and the message re-read under the lock
        (changes to one channel's messages then run one at a time, in pts order)."""
        message = await log_store.get_message(session, message_id)
        if message is None:
            raise not_found("message")
        found = await store.get_membership(session, message.channel_id, user_id)
        if found is None or message.pts <= found[1].visible_from_pts:
            raise not_found("message")
        if lock:  # only once the caller is known to be a member: nobody else gets to hold it
            await log_store.lock_channel(session, message.channel_id)
            await session.refresh(message)
        return message, found[0], found[1]

    async def lock(self, session: AsyncSession, channel_id: int) -> Channel | None:
        return await log_store.lock_channel(session, channel_id)

    async def check_may_send(
        self, session: AsyncSession, channel_id: int, user_id: int, now: int, *, mention_all: bool = False
    ) -> tuple[Channel, ChannelMember, list[int]]:
        """Lock the channel, then check on fresh data that the user may send to it now:
        an active member, not muted, allowed by the direct-chat policy or the group's
        rules. Returns the channel, the membership and the recipients (active members).
        Under the lock, a member removed before this message is neither its sender nor
        its recipient (on every node), and one removed after it received it."""
        channel = await log_store.lock_channel(session, channel_id)
        if channel is None or channel.deleted_at is not None:
            raise not_found("channel")
        member = await store.get_member(session, channel_id, user_id)
        if member is None or member.left_at is not None:
            raise not_found("channel")
        if member.muted_until is not None and member.muted_until > now:
            raise AppError(ErrorCode.FORBIDDEN, "you are muted in this channel")
        if channel.kind == "direct":
            peer = store.peer_of(channel, user_id)
            if peer is not None:
                await self.direct_policy.check_may_message(session, user_id, peer)
        elif channel.kind == "group":
            await self.group_rules.check_may_send(session, channel, member, now, mention_all=mention_all)
        return channel, member, await store.active_member_ids(session, channel_id)

    # -- sending --------------------------------------------------------------------------

    async def send(self, draft: MessageDraft, *, extra_check: ExtraCheck | None = None) -> Sent:
        """Check and append one message; deliver it after commit. A retry of a stored
        message (same sender and client id) returns the original and stores nothing.
        `extra_check` (a card's rules, an attachment's) runs in the transaction; a draft
        with one takes the general path."""
        if self._sends is not None and extra_check is None:
            return await self._send_fast(draft, self._sends)
        try:
            async with self.db.transaction() as tx:
                return await self._send_in(tx, draft, extra_check)
        except (IntegrityError, AppError):
            # A retry whose original is stored (the unique (sender, client id) refused it,
            # or the channel has changed since) returns the original. Looking only on
            # failure keeps the common path one transaction.
            existing = await self._original(draft)
            if existing is None:
                raise
            return existing

    async def _original(self, draft: MessageDraft) -> Sent | None:
        async with self.db.read() as session:
            message = await log_store.find_by_client_id(session, draft.sender_id, draft.client_msg_id)
            if message is None:
                return None
            replies = await log_store.messages_by_id(session, [message.reply_to_id] if message.reply_to_id else [])
        return Sent(message, created=False, replies=replies)

    async def _send_in(self, tx: Transaction, draft: MessageDraft, extra_check: ExtraCheck | None) -> Sent:
        s = tx.session
        now = now_ms()
        channel, member, recipients = await self.check_may_send(
            s, draft.channel_id, draft.sender_id, now, mention_all=draft.mention_all
        )
        reply = None
        if draft.reply_to_id is not None:
            reply = await log_store.get_message(s, draft.reply_to_id)
            if reply is None or reply.channel_id != channel.id or reply.pts <= member.visible_from_pts:
                raise bad_input("replyTo must be a message of this channel", field="replyToId")
        if any(m not in recipients for m in draft.mentions):
            raise bad_input("only members of the channel can be mentioned", field="mentions")
        if extra_check is not None:
            await extra_check(tx, recipients)
        message = (await self.append_messages(tx, [draft], recipients=recipients, at=now, reply=reply))[0]
        return Sent(message, created=True, replies={reply.id: reply} if reply is not None and reply.id else {})

    async def _send_fast(self, draft: MessageDraft, batcher: Batcher[log_store.SendRow, log_store.SendOutcome]) -> Sent:
        at = now_ms()
        outcome = await batcher(
            log_store.SendRow(
                channel_id=draft.channel_id,
                sender_id=draft.sender_id,
                client_msg_id=draft.client_msg_id,
                type=draft.type,
                content=draft.content,
                meta=draft.meta,
                reply_to_id=draft.reply_to_id,
                mentions=draft.mentions,
                mention_all=draft.mention_all,
                at=at,
            )
        )
        if outcome.status == "ok":
            assert outcome.message_id is not None and outcome.pts is not None
            message = draft.record(message_id=outcome.message_id, pts=outcome.pts, at=at)
            replies: dict[int, AnyMessage] = (
                {draft.reply_to_id: outcome.reply} if outcome.reply is not None and draft.reply_to_id else {}
            )
            await self._deliver(outcome.recipients, event_dict(_message_event(message), message, replies))
            return Sent(message, created=True, replies=replies)
        if outcome.status == "duplicate":
            existing = await self._original(draft)
            assert existing is not None
            return existing
        assert self.fast_path is not None
        raise _refusal(outcome.status, self.fast_path)

    async def _send_batch(self, rows: Sequence[log_store.SendRow]) -> list[log_store.SendOutcome]:
        """Concurrent sends as one statement (group commit). Rows go in channel order, so
        that concurrent batches lock channels in the same order (no deadlock between
        them); within a channel, in the order they came."""
        assert self._send_rules is not None
        order = sorted(range(len(rows)), key=lambda i: rows[i].channel_id)
        outcomes = await log_store.send_messages(self.db, [rows[i] for i in order], self._send_rules)
        by_row = dict(zip(order, outcomes, strict=True))
        return [by_row[i] for i in range(len(rows))]

    # -- appending ------------------------------------------------------------------------

    async def append_messages(
        self,
        tx: Transaction,
        drafts: Sequence[MessageDraft],
        *,
        recipients: Sequence[int],
        at: int | None = None,
        reply: Message | None = None,
    ) -> list[MessageRecord]:
        """Store messages of one channel as its next events, contiguous in pts (one
        statement per table whatever their number); deliver them after commit."""
        if not drafts:
            return []
        at = now_ms() if at is None else at
        channel_id = drafts[0].channel_id
        assert all(d.channel_id == channel_id for d in drafts)
        s = tx.session
        head = await log_store.reserve_pts(s, channel_id, at, len(drafts))
        first = head - len(drafts) + 1
        ids = await log_store.insert_messages(s, [d.row(pts=first + i, at=at) for i, d in enumerate(drafts)])
        messages = [
            d.record(message_id=message_id, pts=first + n, at=at)
            for n, (d, message_id) in enumerate(zip(drafts, ids, strict=True))
        ]
        if self.files is not None and any(m.type in self.files.kinds for m in messages):
            await self.files.attach(s, [m for m in messages if m.type in self.files.kinds])
        events = [_message_event(m) for m in messages]
        await log_store.insert_events(s, events)
        await log_store.set_last_message(s, channel_id, messages[-1].id)
        for sender_id in {m.sender_id for m in messages}:
            latest = max(m.pts for m in messages if m.sender_id == sender_id)
            await log_store.mark_sent(s, channel_id, sender_id, latest)
        for m in messages:
            if m.mentions or m.mention_all:
                await log_store.mark_mentioned(s, channel_id, m.sender_id, m.pts, None if m.mention_all else m.mentions)
        replies: dict[int, AnyMessage] | None = {reply.id: reply} if reply is not None and reply.id else None
        for event, message in zip(events, messages, strict=True):
            tx.after_commit(self._deliver, list(recipients), event_dict(event, message, replies))
        return messages

    async def append_event(
        self,
        tx: Transaction,
        *,
        channel_id: int,
        kind: str,
        actor_id: int | None,
        payload: dict[str, Any],
        recipients: Sequence[int],
        message_id: int | None = None,
    ) -> int:
        """Store a non-message channel event as the channel's next pts (in `tx`) and
        deliver it to `recipients` after commit; returns its pts."""
        at = now_ms()
        pts = await log_store.reserve_pts(tx.session, channel_id, at)
        event = EventRecord(
            channel_id=channel_id,
            pts=pts,
            kind=kind,
            actor_id=actor_id,
            message_id=message_id,
            payload=payload,
            created_at=at,
        )
        await log_store.insert_events(tx.session, [event])
        message = await log_store.get_message(tx.session, message_id) if message_id is not None else None
        tx.after_commit(self._deliver, list(recipients), event_dict(event, message))
        return pts

    async def append_system_message(
        self,
        tx: Transaction,
        *,
        channel_id: int,
        actor_id: int,
        text: str,
        kind: str,
        recipients: Sequence[int],
        data: dict[str, Any] | None = None,
    ) -> MessageRecord:
        """A system line ("Ann invited Bob") stored as a message of type `system`, so it shows
        in history, sync and conversation previews like any message."""
        content: dict[str, Any] = {"text": text, "kind": kind}
        if data:
            content["data"] = data
        draft = MessageDraft(
            channel_id=channel_id,
            sender_id=actor_id,
            client_msg_id=f"sys-{uuid.uuid4().hex}",  # unique: the actor may write several lines at once
            type=MessageType.SYSTEM.value,
            content=content,
        )
        return (await self.append_messages(tx, [draft], recipients=recipients))[0]

    async def _deliver(self, recipients: list[int], message: dict[str, Any]) -> None:
        await self.hub.deliver(recipients, message)


def _message_event(message: MessageRecord) -> EventRecord:
    return EventRecord(
        channel_id=message.channel_id,
        pts=message.pts,
        kind="message",
        actor_id=message.sender_id,
        message_id=message.id,
        payload=None,
        created_at=message.created_at,
    )


def _refusal(status: str, rules: FastPathRules) -> AppError:
    """The error of a check the one-statement send refused: the same as the general path's."""
    if status == "not_member":
        return not_found("channel")
    if status == "muted":
        return AppError(ErrorCode.FORBIDDEN, "you are muted in this channel")
    if status == "cannot_message":
        return AppError(ErrorCode.FORBIDDEN, rules.cannot_message)
    if status == "muted_all":
        return AppError(ErrorCode.FORBIDDEN, rules.muted_all)
    if status == "mention_all":
        return AppError(ErrorCode.FORBIDDEN, "only group owners and admins can mention everyone")
    if status == "bad_reply":
        return bad_input("replyTo must be a message of this channel", field="replyToId")
    if status == "bad_mention":
        return bad_input("only members of the channel can be mentioned", field="mentions")
    raise AssertionError(f"unknown send status {status!r}")
