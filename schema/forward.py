"""Forward types: message/forward."""

from __future__ import annotations

import strawberry

from schema.messages import Message


@strawberry.input
class MessageForwardInput:
    request_id: str = strawberry.field(
        description="client-chosen id of this forward (1-64 printable ASCII); repeating the request with the "
        "same id stores nothing twice"
    )
    message_ids: list[strawberry.ID] = strawberry.field(description="1..50 messages, forwarded oldest first")
    channel_ids: list[strawberry.ID] = strawberry.field(description="1..20 target channels")


@strawberry.type(description="One target channel: all the copies, or an error and none.")
class ForwardTargetResult:
    channel_id: strawberry.ID
    ok: bool
    messages: list[Message]
    error_code: str | None
    error_message: str | None


@strawberry.type
class MessageForwardPayload:
    results: list[ForwardTargetResult] = strawberry.field(description="one per target channel, in the order asked")
