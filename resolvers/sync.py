"""sync/*"""

from __future__ import annotations

from app.context import RequestContext
from app.errors import AppError
from app.messaging.views import event_dict
from app.ops import Audience, mutation, query
from app.sync.submit import check_submit_batch
from resolvers.messages import SEND
from schema.common import Long, parse_id, to_id
from schema.events import user_update_object
from schema.messages import channel_event_object
from schema.sync import (
    ChannelPts,
    SyncBatchGetChannelPtsInput,
    SyncBatchGetChannelPtsPayload,
    SyncGetChannelPtsInput,
    SyncGetChannelPtsPayload,
    SyncGetDifferenceInput,
    SyncGetDifferencePayload,
    SyncGetUpdatesInput,
    SyncGetUpdatesPayload,
    SyncSessionReadyPayload,
    SyncSubmitInput,
    SyncSubmitPayload,
    SyncSubmitResult,
)


async def sync_get_updates(ctx: RequestContext, input: SyncGetUpdatesInput) -> SyncGetUpdatesPayload:
    """The caller's user updates after `since` (friend requests, device kicks, new channels...)."""
    page = await ctx.services.updates.get_since(ctx.principal, since=input.since, limit=input.limit)
    return SyncGetUpdatesPayload(
        updates=[user_update_object(u.kind, u.seq, u.payload) for u in page.updates],
        seq=page.seq,
        has_more=page.has_more,
    )


async def sync_get_difference(ctx: RequestContext, input: SyncGetDifferenceInput) -> SyncGetDifferencePayload:
    """A channel's events after `fromPts`, oldest first, in pages."""
    diff = await ctx.services.messaging.difference(
        ctx.principal, parse_id(input.channel_id, "channelId"), from_pts=input.from_pts, limit=input.limit
    )
    return SyncGetDifferencePayload(
        channel_id=to_id(diff.channel_id),
        events=[channel_event_object(event_dict(e, m, diff.replies)) for e, m in diff.events],
        pts=diff.pts,
        next_from_pts=diff.next_from_pts,
        is_final=diff.is_final,
        too_long=diff.too_long,
    )


async def sync_get_channel_pts(ctx: RequestContext, input: SyncGetChannelPtsInput) -> SyncGetChannelPtsPayload:
    """One channel's current pts and the caller's read position."""
    channel, member = await ctx.services.messaging.channel_pts(ctx.principal, parse_id(input.channel_id, "channelId"))
    return SyncGetChannelPtsPayload(
        channel=ChannelPts(channel_id=to_id(channel.id or 0), pts=channel.pts, read_pts=member.read_pts)
    )


async def sync_batch_get_channel_pts(
    ctx: RequestContext, input: SyncBatchGetChannelPtsInput
) -> SyncBatchGetChannelPtsPayload:
    """The pts of every channel changed since the last sync, paged."""
    page = await ctx.services.channels.changed_pts(
        ctx.principal, changed_since=input.changed_since, cursor=input.cursor, limit=input.limit
    )
    return SyncBatchGetChannelPtsPayload(
        channels=[ChannelPts(channel_id=to_id(c.id or 0), pts=c.pts, read_pts=m.read_pts) for c, m in page.channels],
        next_cursor=page.next_cursor,
        sync_time=Long(page.sync_time),
    )


async def sync_session_ready(ctx: RequestContext) -> SyncSessionReadyPayload:
    """The device finished its sync: release the live events held for it meanwhile."""
    await ctx.services.hub.session_ready(ctx.principal)
    return SyncSessionReadyPayload(ok=True, seq=await ctx.services.updates.head(ctx.principal.user_id))


async def sync_submit(ctx: RequestContext, input: SyncSubmitInput) -> SyncSubmitPayload:
    """Replay an offline queue: each item runs through the same registered operation as its
    own mutation (same checks, limits and idempotency), in order; one failure does not stop
    the others."""
    check_submit_batch(len(input.items))
    results = []
    for index, item in enumerate(input.items):
        try:
            payload = await SEND.invoke(ctx, item.message_send)
            results.append(
                SyncSubmitResult(index=index, ok=True, message=payload.message, error_code=None, error_message=None)
            )
        except AppError as exc:
            results.append(
                SyncSubmitResult(
                    index=index, ok=False, message=None, error_code=exc.code.value, error_message=exc.message
                )
            )
    return SyncSubmitPayload(results=results)


OPERATIONS = [
    mutation("sync/submit", sync_submit, audience=Audience.SELF),
    query("sync/get_updates", sync_get_updates, audience=Audience.SELF),
    query("sync/get_difference", sync_get_difference, audience=Audience.MEMBER),
    query("sync/get_channel_pts", sync_get_channel_pts, audience=Audience.MEMBER),
    query("sync/batch_get_channel_pts", sync_batch_get_channel_pts, audience=Audience.SELF),
    mutation("sync/session_ready", sync_session_ready, audience=Audience.SELF),
]
