"""message/forward"""

from __future__ import annotations

from app.context import RequestContext
from app.messaging.views import message_dict
from app.ops import Audience, mutation
from schema.common import parse_id, to_id
from schema.forward import ForwardTargetResult, MessageForwardInput, MessageForwardPayload
from schema.messages import Message


async def message_forward(ctx: RequestContext, input: MessageForwardInput) -> MessageForwardPayload:
    """Forward messages to channels. Each target is checked like a send and gets all the
    copies or none; one refused target does not stop the others (see its errorCode).
    Repeating a request with the same requestId stores nothing twice."""
    results = await ctx.services.forwarding.forward(
        ctx.principal,
        request_id=input.request_id,
        message_ids=[parse_id(m, "messageIds") for m in input.message_ids],
        channel_ids=[parse_id(c, "channelIds") for c in input.channel_ids],
    )
    return MessageForwardPayload(
        results=[
            ForwardTargetResult(
                channel_id=to_id(r.channel_id),
                ok=r.error is None,
                messages=[Message.from_dict(message_dict(m)) for m in r.messages],
                error_code=r.error.code.value if r.error is not None else None,
                error_message=r.error.message if r.error is not None else None,
            )
            for r in results
        ]
    )


OPERATIONS = [
    mutation("message/forward", message_forward, rate_limit="30/minute", audience=Audience.MEMBER),
]
