"""Channel and conversation-list types."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.channels.service import ChannelEntry
from app.channels.tables import Channel as ChannelRecord
from app.messaging.content import preview
from app.messaging.views import message_dict
from schema.common import from_ms_required, to_id
from schema.messages import Message


@strawberry.enum
class ChannelKind(Enum):
    DIRECT = "direct"
    GROUP = "group"


@strawberry.type
class Channel:
    id: strawberry.ID
    kind: ChannelKind
    pts: int
    title: str | None
    avatar_file_id: str | None
    member_count: int
    created_at: datetime
    last_event_at: datetime

    @classmethod
    def from_record(cls, rec: ChannelRecord) -> Channel:
        return cls(
            id=to_id(rec.id or 0),
            kind=ChannelKind(rec.kind),
            pts=rec.pts,
            title=rec.title,
            avatar_file_id=rec.avatar_file_id,
            member_count=rec.member_count,
            created_at=from_ms_required(rec.created_at),
            last_event_at=from_ms_required(rec.last_event_at),
        )


@strawberry.type(description="A conversation as the caller sees it.")
class Conversation:
    channel: Channel
    peer_id: strawberry.ID | None = strawberry.field(description="the other user of a direct channel")
    last_message: Message | None
    preview: str | None
    unread_count: int
    read_pts: int
    mentioned: bool
    muted: bool
    pinned: bool

    @classmethod
    def from_entry(cls, entry: ChannelEntry) -> Conversation:
        last = entry.last_message
        member = entry.member
        return cls(
            channel=Channel.from_record(entry.channel),
            peer_id=to_id(entry.peer_id) if entry.peer_id else None,
            last_message=Message.from_dict(message_dict(last)) if last else None,
            preview=preview(last.type, last.content, revoked=last.revoked_at is not None) if last else None,
            unread_count=entry.unread,
            read_pts=member.read_pts,
            mentioned=member.mention_pts is not None and member.mention_pts > member.read_pts,
            muted=member.notify_muted,
            pinned=member.pinned_at is not None,
        )


@strawberry.input
class ChannelListInput:
    cursor: str | None = None
    limit: int = 50


@strawberry.type
class ChannelListPayload:
    conversations: list[Conversation]
    next_cursor: str | None


@strawberry.input
class ChannelInfoInput:
    channel_id: strawberry.ID


@strawberry.type
class ChannelInfoPayload:
    conversation: Conversation


@strawberry.input
class ChannelDirectGetOrCreateInput:
    user_id: strawberry.ID


@strawberry.type
class ChannelDirectGetOrCreatePayload:
    channel: Channel
    conversation: Conversation
