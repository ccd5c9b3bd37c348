"""message/pin, message/pin/list"""

from __future__ import annotations

from app.context import RequestContext
from app.messaging.views import message_dict
from app.ops import Audience, mutation, query
from schema.common import from_ms_required, parse_id, to_id
from schema.messages import Message
from schema.pins import MessagePinInput, MessagePinListInput, MessagePinListPayload, MessagePinPayload, PinnedMessage


async def message_pin(ctx: RequestContext, input: MessagePinInput) -> MessagePinPayload:
    """Pin (or, with pinned: false, unpin) a message in its channel: either party in a direct
    chat, the owner and admins in a group."""
    change = await ctx.services.pins.set_pinned(
        ctx.principal, parse_id(input.message_id, "messageId"), pinned=input.pinned
    )
    return MessagePinPayload(
        channel_id=to_id(change.channel_id), message_id=to_id(change.message_id), pinned=change.pinned, pts=change.pts
    )


async def message_pin_list(ctx: RequestContext, input: MessagePinListInput) -> MessagePinListPayload:
    """A channel's pinned messages, most recently pinned first."""
    pins = await ctx.services.pins.list_pins(ctx.principal, parse_id(input.channel_id, "channelId"))
    return MessagePinListPayload(
        pins=[
            PinnedMessage(
                message=Message.from_dict(message_dict(message)),
                pinned_by=to_id(pin.pinned_by),
                pinned_at=from_ms_required(pin.pinned_at),
            )
            for pin, message in pins
        ],
        limit=ctx.services.settings.messaging.max_pins_per_channel,
    )


OPERATIONS = [
    mutation("message/pin", message_pin, audience=Audience.MEMBER),
    query("message/pin/list", message_pin_list, audience=Audience.MEMBER),
]
