"""message/reaction/*"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.common import parse_id
from schema.reactions import (
    MessageReaction,
    MessageReactionAddInput,
    MessageReactionChangePayload,
    MessageReactionListInput,
    MessageReactionListPayload,
    MessageReactionRemoveInput,
    MessageReactionStatsInput,
    MessageReactionStatsPayload,
    MessageReactionSummary,
)


async def message_reaction_add(ctx: RequestContext, input: MessageReactionAddInput) -> MessageReactionChangePayload:
    """React to a message with an allowed emoji; reacting again with the same emoji changes nothing."""
    change = await ctx.services.reactions.add(ctx.principal, parse_id(input.message_id, "messageId"), input.emoji)
    return MessageReactionChangePayload.from_domain(change)


async def message_reaction_remove(
    ctx: RequestContext, input: MessageReactionRemoveInput
) -> MessageReactionChangePayload:
    """Take back one's reaction; removing a reaction that is not there changes nothing."""
    change = await ctx.services.reactions.remove(ctx.principal, parse_id(input.message_id, "messageId"), input.emoji)
    return MessageReactionChangePayload.from_domain(change)


async def message_reaction_list(ctx: RequestContext, input: MessageReactionListInput) -> MessageReactionListPayload:
    """Who reacted to a message with what, newest first, paged."""
    page = await ctx.services.reactions.list_reactions(
        ctx.principal,
        parse_id(input.message_id, "messageId"),
        emoji=input.emoji,
        cursor=input.cursor,
        limit=input.limit,
    )
    return MessageReactionListPayload(
        reactions=[MessageReaction.from_record(r) for r in page.reactions], next_cursor=page.next_cursor
    )


async def message_reaction_stats(ctx: RequestContext, input: MessageReactionStatsInput) -> MessageReactionStatsPayload:
    """Reaction counts per emoji for one or many messages."""
    summaries = await ctx.services.reactions.stats(
        ctx.principal, [parse_id(m, "messageIds") for m in input.message_ids]
    )
    return MessageReactionStatsPayload(messages=[MessageReactionSummary.from_domain(s) for s in summaries])


OPERATIONS = [
    mutation("message/reaction/add", message_reaction_add, audience=Audience.MEMBER),
    mutation("message/reaction/remove", message_reaction_remove, audience=Audience.MEMBER),
    query("message/reaction/list", message_reaction_list, audience=Audience.MEMBER),
    query("message/reaction/stats", message_reaction_stats, audience=Audience.MEMBER),
]
