"""presence/*"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.common import from_ms_required, parse_id
from schema.presence import (
    PresenceBatchQueryInput,
    PresenceBatchQueryPayload,
    PresenceQueryInput,
    PresenceQueryPayload,
    PresenceStatsPayload,
    PresenceSubscribeInput,
    PresenceSubscribePayload,
    PresenceTypingInput,
    PresenceTypingPayload,
    PresenceUnsubscribeInput,
    PresenceUnsubscribePayload,
    UserPresence,
)

# A client repeats "typing" every few seconds while the user types; more than this is a flood.
TYPING_RATE = "10/10 seconds"


async def presence_typing(ctx: RequestContext, input: PresenceTypingInput) -> PresenceTypingPayload:
    """Show the channel's other members that you are typing (not stored, not in sync)."""
    expires_at = await ctx.services.presence.typing(
        ctx.principal, parse_id(input.channel_id, "channelId"), input.action.to_domain()
    )
    return PresenceTypingPayload(expires_at=from_ms_required(expires_at))


async def presence_query(ctx: RequestContext, input: PresenceQueryInput) -> PresenceQueryPayload:
    """One user's presence (HIDDEN when their privacy settings do not show it to you)."""
    [presence] = await ctx.services.presence.query(ctx.principal, [parse_id(input.user_id, "userId")])
    return PresenceQueryPayload(presence=UserPresence.from_record(presence))


async def presence_batch_query(ctx: RequestContext, input: PresenceBatchQueryInput) -> PresenceBatchQueryPayload:
    """Several users' presence, in the order asked."""
    presences = await ctx.services.presence.query(ctx.principal, [parse_id(u, "userIds") for u in input.user_ids])
    return PresenceBatchQueryPayload(presences=[UserPresence.from_record(p) for p in presences])


async def presence_subscribe(ctx: RequestContext, input: PresenceSubscribeInput) -> PresenceSubscribePayload:
    """Receive PresenceEvents in `events` when these users come online or go offline,
    while you are connected. Returns their presence now."""
    presences, total = await ctx.services.presence.subscribe(
        ctx.principal, [parse_id(u, "userIds") for u in input.user_ids]
    )
    return PresenceSubscribePayload(presences=[UserPresence.from_record(p) for p in presences], subscriptions=total)


async def presence_unsubscribe(ctx: RequestContext, input: PresenceUnsubscribeInput) -> PresenceUnsubscribePayload:
    """Stop receiving PresenceEvents for these users (or for everyone)."""
    ids = None if input.user_ids is None else [parse_id(u, "userIds") for u in input.user_ids]
    return PresenceUnsubscribePayload(subscriptions=await ctx.services.presence.unsubscribe(ctx.principal, ids))


async def presence_stats(ctx: RequestContext) -> PresenceStatsPayload:
    """Your devices online and subscriptions; cluster-wide counts for administrators."""
    return PresenceStatsPayload.from_record(await ctx.services.presence.stats(ctx.principal))


OPERATIONS = [
    mutation("presence/typing", presence_typing, rate_limit=TYPING_RATE, audience=Audience.MEMBER),
    mutation("presence/subscribe", presence_subscribe, rate_limit="60/minute", audience=Audience.USER),
    mutation("presence/unsubscribe", presence_unsubscribe, audience=Audience.SELF),
    query("presence/query", presence_query, audience=Audience.USER),
    query("presence/batch_query", presence_batch_query, audience=Audience.USER),
    query("presence/stats", presence_stats, audience=Audience.SELF),
]
