"""message/history/search"""

from __future__ import annotations

from app.context import RequestContext
from app.messaging.views import message_dict
from app.ops import Audience, query
from schema.messages import Message
from schema.search_messages import MessageHistorySearchInput, MessageHistorySearchPayload


async def message_history_search(ctx: RequestContext, input: MessageHistorySearchInput) -> MessageHistorySearchPayload:
    """Search the text of messages in your channels, newest first (never revoked ones)."""
    page = await ctx.services.message_search.search(
        ctx.principal, input.to_domain(), cursor=input.cursor, limit=input.limit
    )
    return MessageHistorySearchPayload(
        messages=[Message.from_dict(message_dict(m, page.replies)) for m in page.messages], next_cursor=page.next_cursor
    )


OPERATIONS = [
    query("message/history/search", message_history_search, rate_limit="120/minute", audience=Audience.MEMBER),
]
