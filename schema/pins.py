"""Pin types: message/pin, message/pin/list and the PinEvent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from schema.common import from_ms_required, to_id
from schema.event_interfaces import ChannelEvent

if TYPE_CHECKING:
    from schema.messages import Message


@strawberry.type(description="A message was pinned or unpinned in a channel (a channel event with pts).")
class PinEvent(ChannelEvent):
    message_id: strawberry.ID
    pinned: bool = strawberry.field(description="false: the message was unpinned")
    actor_id: strawberry.ID = strawberry.field(description="who pinned or unpinned it")
    at: datetime

    @classmethod
    def from_event(cls, d: dict[str, Any]) -> PinEvent:
        return cls(
            channel_id=to_id(d["channelId"]),
            pts=d["pts"],
            message_id=to_id(d["payload"]["messageId"]),
            pinned=bool(d["payload"]["pinned"]),
            actor_id=to_id(d["actorId"]),
            at=from_ms_required(d["at"]),
        )


@strawberry.type
class PinnedMessage:
    # Lazy: schema.messages lists PinEvent among the channel events, so it imports this module.
    message: Annotated[Message, strawberry.lazy("schema.messages")]
    pinned_by: strawberry.ID
    pinned_at: datetime


@strawberry.input
class MessagePinInput:
    message_id: strawberry.ID
    pinned: bool = strawberry.field(default=True, description="false to unpin")


@strawberry.type
class MessagePinPayload:
    channel_id: strawberry.ID
    message_id: strawberry.ID
    pinned: bool
    pts: int = strawberry.field(description="the pin event's pts in the channel")


@strawberry.input
class MessagePinListInput:
    channel_id: strawberry.ID


@strawberry.type
class MessagePinListPayload:
    pins: list[PinnedMessage] = strawberry.field(description="most recently pinned first")
    limit: int = strawberry.field(description="how many messages a channel can have pinned")
