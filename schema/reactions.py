"""Reaction types: message/reaction/add|remove|list|stats and the ReactionEvent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.messaging.reactions import ReactionChange, ReactionSummary
from app.messaging.tables import MessageReaction as ReactionRecord
from schema.common import from_ms_required, to_id
from schema.event_interfaces import ChannelEvent


@strawberry.type(description="A reaction was added to or removed from a message (a channel event with pts).")
class ReactionEvent(ChannelEvent):
    message_id: strawberry.ID
    user_id: strawberry.ID
    emoji: str
    added: bool = strawberry.field(description="false: the reaction was removed")

    @classmethod
    def from_event(cls, d: dict[str, Any]) -> ReactionEvent:
        payload = d["payload"]
        return cls(
            channel_id=to_id(d["channelId"]),
            pts=d["pts"],
            message_id=to_id(payload["messageId"]),
            user_id=to_id(payload["userId"]),
            emoji=payload["emoji"],
            added=bool(payload["added"]),
        )


@strawberry.type
class ReactionCount:
    emoji: str
    count: int
    reacted_by_me: bool


@strawberry.type(description="A message's reactions, most used emoji first.")
class MessageReactionSummary:
    message_id: strawberry.ID
    total: int
    reactions: list[ReactionCount]

    @classmethod
    def from_domain(cls, summary: ReactionSummary) -> MessageReactionSummary:
        return cls(
            message_id=to_id(summary.message_id),
            total=summary.total,
            reactions=[ReactionCount(emoji=c.emoji, count=c.count, reacted_by_me=c.mine) for c in summary.counts],
        )


@strawberry.type
class MessageReaction:
    user_id: strawberry.ID
    emoji: str
    created_at: datetime

    @classmethod
    def from_record(cls, rec: ReactionRecord) -> MessageReaction:
        return cls(user_id=to_id(rec.user_id), emoji=rec.emoji, created_at=from_ms_required(rec.created_at))


@strawberry.input
class MessageReactionAddInput:
    message_id: strawberry.ID
    emoji: str


@strawberry.input
class MessageReactionRemoveInput:
    message_id: strawberry.ID
    emoji: str


@strawberry.type(description="changed is false when the reaction was already there (add) or not there (remove).")
class MessageReactionChangePayload:
    changed: bool
    pts: int | None = strawberry.field(description="the reaction event's pts in the channel, when changed")
    summary: MessageReactionSummary

    @classmethod
    def from_domain(cls, change: ReactionChange) -> MessageReactionChangePayload:
        return cls(changed=change.changed, pts=change.pts, summary=MessageReactionSummary.from_domain(change.summary))


@strawberry.input
class MessageReactionListInput:
    message_id: strawberry.ID
    emoji: str | None = strawberry.field(default=None, description="only this emoji")
    cursor: str | None = None
    limit: int = 50


@strawberry.type
class MessageReactionListPayload:
    reactions: list[MessageReaction] = strawberry.field(description="newest first")
    next_cursor: str | None


@strawberry.input
class MessageReactionStatsInput:
    message_ids: list[strawberry.ID] = strawberry.field(description="1..100 messages")


@strawberry.type
class MessageReactionStatsPayload:
    messages: list[MessageReactionSummary] = strawberry.field(
        description="in the order asked; messages the caller cannot see are left out"
    )
