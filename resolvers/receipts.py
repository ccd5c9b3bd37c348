"""message/status/* and the conversation settings channel/pin|hide|mute."""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.channels import Conversation
from schema.common import parse_id, to_id
from schema.receipts import (
    ChannelHideInput,
    ChannelHidePayload,
    ChannelMuteInput,
    ChannelMutePayload,
    ChannelPinInput,
    ChannelPinPayload,
    MessageStatusCountInput,
    MessageStatusCountPayload,
    MessageStatusReadBatchInput,
    MessageStatusReadBatchPayload,
    MessageStatusReadInput,
    MessageStatusReadListInput,
    MessageStatusReadListPayload,
    MessageStatusReadPayload,
    MessageStatusReadStatsInput,
    MessageStatusReadStatsPayload,
    ReadPosition,
    UnreadCount,
)


async def message_status_read(ctx: RequestContext, input: MessageStatusReadInput) -> MessageStatusReadPayload:
    """Mark a channel read up to a pts; the caller's other devices clear their badge."""
    result = await ctx.services.receipts.read(ctx.principal, parse_id(input.channel_id, "channelId"), input.pts)
    return MessageStatusReadPayload(channel_id=to_id(result.channel_id), read_pts=result.read_pts, unread=result.unread)


async def message_status_read_batch(
    ctx: RequestContext, input: MessageStatusReadBatchInput
) -> MessageStatusReadBatchPayload:
    """Mark many channels read in one call (one statement per step, not per channel)."""
    items = [(parse_id(i.channel_id, "channelId"), i.pts) for i in input.items]
    results = await ctx.services.receipts.read_batch(ctx.principal, items)
    return MessageStatusReadBatchPayload(
        results=[
            ReadPosition(
                channel_id=to_id(r.channel_id), read_pts=r.read_pts, unread=r.unread, ok=r.ok, error_code=r.error_code
            )
            for r in results
        ]
    )


async def message_status_count(ctx: RequestContext, input: MessageStatusCountInput) -> MessageStatusCountPayload:
    """Unread messages per channel and in total."""
    ids = [parse_id(c, "channelIds") for c in input.channel_ids] if input.channel_ids is not None else None
    counts = await ctx.services.receipts.counts(ctx.principal, ids)
    return MessageStatusCountPayload(
        channels=[UnreadCount(channel_id=to_id(c.channel_id), unread=c.unread, mentioned=c.mentioned) for c in counts],
        total=sum(c.unread for c in counts),
    )


async def message_status_read_list(
    ctx: RequestContext, input: MessageStatusReadListInput
) -> MessageStatusReadListPayload:
    """Who read a message (only readers who show read receipts)."""
    after = parse_id(input.after_user_id, "afterUserId") if input.after_user_id is not None else 0
    readers, more = await ctx.services.receipts.readers(
        ctx.principal, parse_id(input.message_id, "messageId"), after_user_id=after, limit=input.limit
    )
    return MessageStatusReadListPayload(user_ids=[to_id(u) for u in readers], has_more=more)


async def message_status_read_stats(
    ctx: RequestContext, input: MessageStatusReadStatsInput
) -> MessageStatusReadStatsPayload:
    """How many members read a message, and how many not yet (hidden receipts not counted)."""
    stats = await ctx.services.receipts.stats(ctx.principal, parse_id(input.message_id, "messageId"))
    return MessageStatusReadStatsPayload(
        message_id=to_id(stats.message_id), read_count=stats.read_count, unread_count=stats.unread_count
    )


async def channel_pin(ctx: RequestContext, input: ChannelPinInput) -> ChannelPinPayload:
    """Pin (or unpin) a conversation at the top of the caller's list, on all devices."""
    entry = await ctx.services.channels.update_settings(
        ctx.principal, parse_id(input.channel_id, "channelId"), pinned=input.pinned
    )
    return ChannelPinPayload(conversation=Conversation.from_entry(entry))


async def channel_hide(ctx: RequestContext, input: ChannelHideInput) -> ChannelHidePayload:
    """Hide a conversation from the caller's list until a new message arrives."""
    entry = await ctx.services.channels.update_settings(
        ctx.principal, parse_id(input.channel_id, "channelId"), hidden=input.hidden
    )
    return ChannelHidePayload(conversation=Conversation.from_entry(entry))


async def channel_mute(ctx: RequestContext, input: ChannelMuteInput) -> ChannelMutePayload:
    """Mute notifications of a conversation (it still syncs)."""
    entry = await ctx.services.channels.update_settings(
        ctx.principal, parse_id(input.channel_id, "channelId"), muted=input.muted
    )
    return ChannelMutePayload(conversation=Conversation.from_entry(entry))


OPERATIONS = [
    mutation("message/status/read", message_status_read, audience=Audience.MEMBER),
    mutation("message/status/read_batch", message_status_read_batch, audience=Audience.MEMBER),
    query("message/status/count", message_status_count, audience=Audience.MEMBER),
    query("message/status/read_list", message_status_read_list, audience=Audience.MEMBER),
    query("message/status/read_stats", message_status_read_stats, audience=Audience.MEMBER),
    mutation("channel/pin", channel_pin, audience=Audience.MEMBER),
    mutation("channel/hide", channel_hide, audience=Audience.MEMBER),
    mutation("channel/mute", channel_mute, audience=Audience.MEMBER),
]
