"""sync/* types."""

from __future__ import annotations

import strawberry

from schema.common import Long
from schema.events import ChannelUpdate, UserUpdate
from schema.messages import Message, MessageSendInput


@strawberry.input
class SyncGetUpdatesInput:
    since: int = 0
    limit: int = 100


@strawberry.type
class SyncGetUpdatesPayload:
    updates: list[UserUpdate]
    seq: int = strawberry.field(description="the user's current update seq")
    has_more: bool


@strawberry.input
class SyncGetDifferenceInput:
    channel_id: strawberry.ID
    from_pts: int
    limit: int = 100


@strawberry.type
class SyncGetDifferencePayload:
    channel_id: strawberry.ID
    events: list[ChannelUpdate]
    pts: int = strawberry.field(description="the channel's current pts")
    next_from_pts: int
    is_final: bool
    too_long: bool = strawberry.field(description="the gap is too large: re-fetch history instead")


@strawberry.input
class SyncGetChannelPtsInput:
    channel_id: strawberry.ID


@strawberry.type
class ChannelPts:
    channel_id: strawberry.ID
    pts: int
    read_pts: int


@strawberry.type
class SyncGetChannelPtsPayload:
    channel: ChannelPts


@strawberry.input
class SyncBatchGetChannelPtsInput:
    changed_since: Long = Long(0)
    cursor: str | None = None
    limit: int = 500


@strawberry.type
class SyncBatchGetChannelPtsPayload:
    channels: list[ChannelPts]
    next_cursor: str | None
    sync_time: Long = strawberry.field(description="pass as changedSince on the next sync")


@strawberry.type
class SyncSessionReadyPayload:
    ok: bool
    seq: int = strawberry.field(description="the user's update seq when the session became ready")


@strawberry.input(one_of=True, description="One queued client action; exactly one field.")
class SyncSubmitItem:
    message_send: MessageSendInput | None = strawberry.UNSET


@strawberry.input
class SyncSubmitInput:
    items: list[SyncSubmitItem]


@strawberry.type(description="The outcome of one submitted item, in submission order.")
class SyncSubmitResult:
    index: int
    ok: bool
    message: Message | None
    error_code: str | None
    error_message: str | None


@strawberry.type
class SyncSubmitPayload:
    results: list[SyncSubmitResult]
