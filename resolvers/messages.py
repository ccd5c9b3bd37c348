"""message/*"""

from __future__ import annotations

from app.context import RequestContext
from app.messaging.service import SendRequest
from app.messaging.views import message_dict
from app.ops import Audience, mutation, query
from schema.common import parse_id
from schema.messages import (
    HistoryOrder,
    Message,
    MessageHistoryAroundInput,
    MessageHistoryAroundPayload,
    MessageHistoryGetInput,
    MessageHistoryGetPayload,
    MessageRevokeInput,
    MessageRevokePayload,
    MessageSendInput,
    MessageSendPayload,
)


async def message_send(ctx: RequestContext, input: MessageSendInput) -> MessageSendPayload:
    """Send a message; answered only once it is stored. Retrying with the same
    clientMsgId returns the original message."""
    kind, content = input.content.to_domain()
    sent = await ctx.services.messaging.submit(
        ctx.principal,
        SendRequest(
            channel_id=parse_id(input.channel_id, "channelId"),
            client_msg_id=input.client_msg_id,
            type=kind,
            content=content,
            meta=input.meta,  # type: ignore[arg-type]  # check_meta refuses non-objects
            reply_to_id=parse_id(input.reply_to_id, "replyToId") if input.reply_to_id is not None else None,
            mentions=tuple(parse_id(m, "mentions") for m in input.mentions or ()),
            mention_all=input.mention_all,
        ),
    )
    return MessageSendPayload(message=Message.from_dict(message_dict(sent.message, sent.replies)))


async def message_history_get(ctx: RequestContext, input: MessageHistoryGetInput) -> MessageHistoryGetPayload:
    """A page of a channel's messages before/after a pts."""
    page = await ctx.services.messaging.history(
        ctx.principal,
        parse_id(input.channel_id, "channelId"),
        before_pts=input.before_pts,
        after_pts=input.after_pts,
        limit=input.limit,
        newest_first=input.order is HistoryOrder.NEWEST_FIRST,
    )
    return MessageHistoryGetPayload(
        messages=[Message.from_dict(message_dict(m, page.replies)) for m in page.messages], has_more=page.has_more
    )


async def message_history_around(ctx: RequestContext, input: MessageHistoryAroundInput) -> MessageHistoryAroundPayload:
    """The messages around one message (to jump to it)."""
    older, newer = await ctx.services.messaging.around(
        ctx.principal, parse_id(input.message_id, "messageId"), limit=input.limit
    )
    return MessageHistoryAroundPayload(
        messages=[Message.from_dict(message_dict(m, older.replies)) for m in older.messages + newer.messages],
        has_more_before=older.has_more,
        has_more_after=newer.has_more,
    )


async def message_revoke(ctx: RequestContext, input: MessageRevokeInput) -> MessageRevokePayload:
    """Recall a message (the sender within the revoke window; group owners/admins any time).
    There is no edit: recall and send again."""
    record = await ctx.services.messaging.revoke(ctx.principal, parse_id(input.message_id, "messageId"))
    return MessageRevokePayload(message=Message.from_dict(message_dict(record)))


SEND = mutation("message/send", message_send, audience=Audience.MEMBER)

OPERATIONS = [
    SEND,
    mutation("message/revoke", message_revoke, audience=Audience.MEMBER),
    query("message/history/get", message_history_get, audience=Audience.MEMBER),
    query("message/history/around", message_history_around, audience=Audience.MEMBER),
]
