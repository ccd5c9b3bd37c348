"""channel/*"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.channels import (
    Channel,
    ChannelDirectGetOrCreateInput,
    ChannelDirectGetOrCreatePayload,
    ChannelInfoInput,
    ChannelInfoPayload,
    ChannelListInput,
    ChannelListPayload,
    Conversation,
)
from schema.common import parse_id


async def channel_list(ctx: RequestContext, input: ChannelListInput) -> ChannelListPayload:
    """The conversation list: pinned first, then by latest activity; hidden ones left out."""
    page = await ctx.services.channels.list_channels(ctx.principal, cursor=input.cursor, limit=input.limit)
    return ChannelListPayload(
        conversations=[Conversation.from_entry(e) for e in page.entries], next_cursor=page.next_cursor
    )


async def channel_info(ctx: RequestContext, input: ChannelInfoInput) -> ChannelInfoPayload:
    """One conversation."""
    entry = await ctx.services.channels.info(ctx.principal, parse_id(input.channel_id, "channelId"))
    return ChannelInfoPayload(conversation=Conversation.from_entry(entry))


async def channel_direct_get_or_create(
    ctx: RequestContext, input: ChannelDirectGetOrCreateInput
) -> ChannelDirectGetOrCreatePayload:
    """The direct channel with a user, created if needed (when the caller may message them)."""
    entry = await ctx.services.channels.open_direct(ctx.principal, parse_id(input.user_id, "userId"))
    return ChannelDirectGetOrCreatePayload(
        channel=Channel.from_record(entry.channel), conversation=Conversation.from_entry(entry)
    )


OPERATIONS = [
    query("channel/list", channel_list, audience=Audience.SELF),
    query("channel/info", channel_info, audience=Audience.MEMBER),
    mutation("channel/direct/get_or_create", channel_direct_get_or_create, audience=Audience.USER),
]
