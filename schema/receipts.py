"""Read state and conversation settings types."""

from __future__ import annotations

import strawberry

from schema.channels import Conversation


@strawberry.input
class MessageStatusReadInput:
    channel_id: strawberry.ID
    pts: int = strawberry.field(description="mark everything up to this pts read")


@strawberry.type
class ReadPosition:
    channel_id: strawberry.ID
    read_pts: int
    unread: int
    ok: bool = True
    error_code: str | None = None


@strawberry.type
class MessageStatusReadPayload:
    channel_id: strawberry.ID
    read_pts: int
    unread: int


@strawberry.input
class ReadItem:
    channel_id: strawberry.ID
    pts: int


@strawberry.input
class MessageStatusReadBatchInput:
    items: list[ReadItem]


@strawberry.type
class MessageStatusReadBatchPayload:
    results: list[ReadPosition] = strawberry.field(description="one per channel, in input order")


@strawberry.input
class MessageStatusCountInput:
    channel_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="default: all")


@strawberry.type
class UnreadCount:
    channel_id: strawberry.ID
    unread: int
    mentioned: bool


@strawberry.type
class MessageStatusCountPayload:
    channels: list[UnreadCount]
    total: int


@strawberry.input
class MessageStatusReadListInput:
    message_id: strawberry.ID
    after_user_id: strawberry.ID | None = None
    limit: int = 50


@strawberry.type
class MessageStatusReadListPayload:
    user_ids: list[strawberry.ID] = strawberry.field(description="readers who show read receipts")
    has_more: bool


@strawberry.input
class MessageStatusReadStatsInput:
    message_id: strawberry.ID


@strawberry.type
class MessageStatusReadStatsPayload:
    message_id: strawberry.ID
    read_count: int
    unread_count: int


@strawberry.input
class ChannelPinInput:
    channel_id: strawberry.ID
    pinned: bool = True


@strawberry.type
class ChannelPinPayload:
    conversation: Conversation


@strawberry.input
class ChannelHideInput:
    channel_id: strawberry.ID
    hidden: bool = True


@strawberry.type
class ChannelHidePayload:
    conversation: Conversation


@strawberry.input
class ChannelMuteInput:
    channel_id: strawberry.ID
    muted: bool = True


@strawberry.type
class ChannelMutePayload:
    conversation: Conversation
