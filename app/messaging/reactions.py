"""Reactions: one per (user, emoji, message), from the configured emoji set.

Adding a reaction that is already there, or removing one that is not, changes nothing:
the answer says `changed=False` and no event is stored. A double tap or a retry is
harmless, and concurrent adds and removes of the same reaction converge: the channel
lock (`lock_channel`) makes them run one after the other, and each stores an event only
if it changed the row, so the events in pts order replay to the final state.

Each real change is a channel event of kind "reaction" (payload `messageId`, `userId`,
`emoji`, `added`) with the channel's next pts, delivered live after commit and in sync.
A recalled message takes no reaction changes, and its reactions are hidden with it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels import store as channel_store
from app.config import Settings
from app.context import Principal
from app.db import Database
from app.db.types import now_ms
from app.db.upsert import insert_for
from app.errors import AppError, ErrorCode, bad_input
from app.messaging import store
from app.messaging.message_access import member_message, visible_from_pts
from app.messaging.service import MessagingService
from app.messaging.tables import Message, MessageReaction

MAX_EMOJI_LENGTH = 32  # message_reactions.emoji
MAX_LIST_PAGE = 100
MAX_STATS_MESSAGES = 100
VARIATION_SELECTOR = "\ufe0f"


@dataclass(frozen=True, slots=True)
class EmojiCount:
    emoji: str
    count: int
    mine: bool  # the caller is among those who reacted with it


@dataclass(frozen=True, slots=True)
class ReactionSummary:
    """A message's reactions, most used emoji first."""

    message_id: int
    counts: list[EmojiCount]

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)


@dataclass(frozen=True, slots=True)
class ReactionChange:
    message_id: int
    channel_id: int
    emoji: str
    changed: bool
    pts: int | None  # the event's pts when `changed`
    summary: ReactionSummary


@dataclass(frozen=True, slots=True)
class ReactionPage:
    reactions: list[MessageReaction]  # newest first
    next_cursor: str | None


class ReactionService:
    def __init__(self, *, settings: Settings, db: Database, messaging: MessagingService) -> None:
        self.settings = settings
        self.db = db
        self.messaging = messaging

    def check_emoji(self, emoji: str, *, strict: bool = True) -> str:
        """The configured spelling of an allowed emoji (with or without U+FE0F). Not `strict`
        (removing, listing): an emoji dropped from the configuration since is still accepted,
        so reactions made with it can be listed and taken back."""
        if not 1 <= len(emoji) <= MAX_EMOJI_LENGTH:
            raise bad_input(f"emoji must be 1..{MAX_EMOJI_LENGTH} characters", field="emoji")
        allowed = {e.replace(VARIATION_SELECTOR, ""): e for e in self.settings.messaging.reaction_emoji}
        found = allowed.get(emoji.replace(VARIATION_SELECTOR, ""))
        if found is not None:
            return found
        if strict:
            raise bad_input(
                "this emoji is not allowed as a reaction", field="emoji", allowed=self.settings.messaging.reaction_emoji
            )
        return emoji

    async def add(self, principal: Principal, message_id: int, emoji: str) -> ReactionChange:
        return await self._change(principal, message_id, emoji, added=True)

    async def remove(self, principal: Principal, message_id: int, emoji: str) -> ReactionChange:
        return await self._change(principal, message_id, emoji, added=False)

    async def _change(self, principal: Principal, message_id: int, emoji: str, *, added: bool) -> ReactionChange:
        emoji = self.check_emoji(emoji, strict=added)
        user_id = principal.user_id
        async with self.db.transaction() as tx:
            session = tx.session
            message, _channel, _member = await member_message(self.messaging, session, message_id, user_id, lock=True)
            if message.revoked_at is not None:
                raise AppError(ErrorCode.CONFLICT, "the message was recalled")
            if added:
                changed = await _insert(session, message, user_id, emoji, now_ms())
            else:
                changed = await _delete(session, message_id, user_id, emoji)
            pts = None
            if changed:
                pts = await self.messaging.append_event(
                    tx,
                    channel_id=message.channel_id,
                    kind="reaction",
                    actor_id=user_id,
                    payload={"messageId": message_id, "userId": user_id, "emoji": emoji, "added": added},
                    recipients=await channel_store.active_member_ids(session, message.channel_id),
                )
            summaries = await _summaries(session, [message_id], user_id)
        return ReactionChange(
            message_id=message_id,
            channel_id=message.channel_id,
            emoji=emoji,
            changed=changed,
            pts=pts,
            summary=summaries.get(message_id, ReactionSummary(message_id, [])),
        )

    async def list_reactions(
        self, principal: Principal, message_id: int, *, emoji: str | None, cursor: str | None, limit: int
    ) -> ReactionPage:
        """Who reacted with what, newest first (optionally one emoji only), keyset paged."""
        if not 1 <= limit <= MAX_LIST_PAGE:
            raise bad_input(f"limit must be 1..{MAX_LIST_PAGE}", field="limit")
        after = _decode_cursor(cursor)
        if emoji is not None:
            emoji = self.check_emoji(emoji, strict=False)
        async with self.db.read() as session:
            message, _, _ = await member_message(self.messaging, session, message_id, principal.user_id, lock=False)
            if message.revoked_at is not None:
                return ReactionPage([], None)
            rows = await _page(session, message_id, emoji=emoji, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return ReactionPage(rows, _encode_cursor(rows[-1]) if more else None)

    async def stats(self, principal: Principal, message_ids: Sequence[int]) -> list[ReactionSummary]:
        """Counts per emoji for each message, in the order asked. Messages the caller cannot
        see (unknown, foreign) are left out, alike; a recalled message shows no reactions.
        Three queries whatever the number of messages."""
        ids = list(dict.fromkeys(message_ids))
        if not 1 <= len(ids) <= MAX_STATS_MESSAGES:
            raise bad_input(f"messageIds must hold 1..{MAX_STATS_MESSAGES} ids", field="messageIds")
        user_id = principal.user_id
        async with self.db.read() as session:
            messages = await store.messages_by_id(session, ids)
            visible_from = await visible_from_pts(session, user_id, {m.channel_id for m in messages.values()})
            shown = [
                m
                for i in ids
                if (m := messages.get(i)) is not None
                and m.channel_id in visible_from
                and m.pts > visible_from[m.channel_id]
            ]
            live = [m.id for m in shown if m.id is not None and m.revoked_at is None]
            summaries = await _summaries(session, live, user_id)
        return [summaries.get(m.id or 0, ReactionSummary(m.id or 0, [])) for m in shown]


# --- SQL -----------------------------------------------------------------------------------


async def _insert(session: AsyncSession, message: Message, user_id: int, emoji: str, at: int) -> bool:
    assert message.id is not None
    stmt = (
        insert_for(session, MessageReaction)
        .values(message_id=message.id, user_id=user_id, emoji=emoji, channel_id=message.channel_id, created_at=at)
        .on_conflict_do_nothing(index_elements=["message_id", "user_id", "emoji"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def _delete(session: AsyncSession, message_id: int, user_id: int, emoji: str) -> bool:
    result = await session.execute(
        delete(MessageReaction).where(
            col(MessageReaction.message_id) == message_id,
            col(MessageReaction.user_id) == user_id,
            col(MessageReaction.emoji) == emoji,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def _summaries(session: AsyncSession, message_ids: list[int], user_id: int) -> dict[int, ReactionSummary]:
    if not message_ids:
        return {}
    mine = func.max(case((col(MessageReaction.user_id) == user_id, 1), else_=0))
    result = await session.execute(
        select(
            col(MessageReaction.message_id),
            col(MessageReaction.emoji),
            func.count(),
            mine,
            func.min(col(MessageReaction.created_at)),
        )
        .where(col(MessageReaction.message_id).in_(message_ids))
        .group_by(col(MessageReaction.message_id), col(MessageReaction.emoji))
    )
    rows: dict[int, list[tuple[int, int, str, bool]]] = {}
    for message_id, emoji, count, me, first in result.all():
        rows.setdefault(int(message_id), []).append((-int(count), int(first), str(emoji), bool(me)))
    # Most used first; ties by which emoji came first, so the order does not jump around.
    return {
        mid: ReactionSummary(mid, [EmojiCount(emoji, -neg, me) for neg, _, emoji, me in sorted(counts)])
        for mid, counts in rows.items()
    }


async def _page(
    session: AsyncSession, message_id: int, *, emoji: str | None, after: tuple[int, int, str] | None, limit: int
) -> list[MessageReaction]:
    stmt = select(MessageReaction).where(col(MessageReaction.message_id) == message_id)
    if emoji is not None:
        stmt = stmt.where(col(MessageReaction.emoji) == emoji)
    if after is not None:
        at, uid, emo = after
        created, user, em = col(MessageReaction.created_at), col(MessageReaction.user_id), col(MessageReaction.emoji)
        stmt = stmt.where(
            or_(created < at, and_(created == at, user < uid), and_(created == at, user == uid, em < emo))
        )
    stmt = stmt.order_by(
        col(MessageReaction.created_at).desc(), col(MessageReaction.user_id).desc(), col(MessageReaction.emoji).desc()
    )
    return list((await session.execute(stmt.limit(limit))).scalars().all())


# --- cursors -------------------------------------------------------------------------------


def _encode_cursor(row: MessageReaction) -> str:
    raw = f"{row.created_at}:{row.user_id}:{row.emoji}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[int, int, str] | None:
    if cursor is None or cursor == "":
        return None
    if len(cursor) > 200:
        raise bad_input("invalid cursor", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, user_id, emoji = raw.split(":", 2)
        parsed = int(at), int(user_id), emoji
    except (ValueError, UnicodeDecodeError):
        raise bad_input("invalid cursor", field="cursor") from None
    if parsed[0] < 0 or parsed[1] < 0 or not parsed[2]:
        raise bad_input("invalid cursor", field="cursor")
    return parsed
