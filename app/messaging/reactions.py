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

from collections.abc import Sequence
from dataclasses import dataclass

from app import paging
from app.channels import log_store
from app.channels import store as channel_store
from app.channels.log import ChannelLog
from app.config import Settings
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input
from app.messaging import store
from app.messaging.tables import MessageReaction
from app.principal import Principal

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
    def __init__(self, *, settings: Settings, db: Database, log: ChannelLog) -> None:
        self.settings = settings
        self.db = db
        self.log = log

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
            message, _channel, _member = await self.log.member_message(session, message_id, user_id, lock=True)
            if message.revoked_at is not None:
                raise AppError(ErrorCode.CONFLICT, "the message was recalled")
            if added:
                changed = await store.insert_reaction(session, message, user_id, emoji, now_ms())
            else:
                changed = await store.delete_reaction(session, message_id, user_id, emoji)
            pts = None
            if changed:
                pts = await self.log.append_event(
                    tx,
                    channel_id=message.channel_id,
                    kind="reaction",
                    actor_id=user_id,
                    payload={"messageId": message_id, "userId": user_id, "emoji": emoji, "added": added},
                    recipients=await channel_store.active_member_ids(session, message.channel_id),
                )
            summaries = _summaries(await store.reaction_counts(session, [message_id], user_id))
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
        paging.check_limit(limit, MAX_LIST_PAGE)
        parts = paging.decode(cursor, int, int, str)
        after = (int(parts[0]), int(parts[1]), str(parts[2])) if parts is not None else None
        if emoji is not None:
            emoji = self.check_emoji(emoji, strict=False)
        async with self.db.read() as session:
            message, _, _ = await self.log.member_message(session, message_id, principal.user_id)
            if message.revoked_at is not None:
                return ReactionPage([], None)
            rows = await store.reactions_page(session, message_id, emoji=emoji, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        return ReactionPage(rows, paging.encode(last.created_at, last.user_id, last.emoji) if last else None)

    async def stats(self, principal: Principal, message_ids: Sequence[int]) -> list[ReactionSummary]:
        """Counts per emoji for each message, in the order asked. Messages the caller cannot
        see (unknown, foreign) are left out, alike; a recalled message shows no reactions.
        Three queries whatever the number of messages."""
        ids = list(dict.fromkeys(message_ids))
        if not 1 <= len(ids) <= MAX_STATS_MESSAGES:
            raise bad_input(f"messageIds must hold 1..{MAX_STATS_MESSAGES} ids", field="messageIds")
        user_id = principal.user_id
        async with self.db.read() as session:
            messages = await log_store.messages_by_id(session, ids)
            visible_from = await store.visible_from_pts(session, user_id, {m.channel_id for m in messages.values()})
            shown = [
                m
                for i in ids
                if (m := messages.get(i)) is not None
                and m.channel_id in visible_from
                and m.pts > visible_from[m.channel_id]
            ]
            live = [m.id for m in shown if m.id is not None and m.revoked_at is None]
            summaries = _summaries(await store.reaction_counts(session, live, user_id))
        return [summaries.get(m.id or 0, ReactionSummary(m.id or 0, [])) for m in shown]


def _summaries(counts: list[tuple[int, str, int, bool, int]]) -> dict[int, ReactionSummary]:
    rows: dict[int, list[tuple[int, int, str, bool]]] = {}
    for message_id, emoji, count, me, first in counts:
        rows.setdefault(message_id, []).append((-count, first, emoji, me))
    # Most used first; ties by which emoji came first, so the order does not jump around.
    return {
        mid: ReactionSummary(mid, [EmojiCount(emoji, -neg, me) for neg, _, emoji, me in sorted(items)])
        for mid, items in rows.items()
    }
