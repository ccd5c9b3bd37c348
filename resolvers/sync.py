"""sync/*"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import query
from schema.events import user_update_object
from schema.sync import SyncGetUpdatesInput, SyncGetUpdatesPayload


async def sync_get_updates(ctx: RequestContext, input: SyncGetUpdatesInput) -> SyncGetUpdatesPayload:
    """The caller's user updates after `since` (friend requests, device kicks, read state...)."""
    page = await ctx.services.updates.get_since(ctx.principal, since=input.since, limit=input.limit)
    items = [user_update_object(u.kind, u.seq, u.payload) for u in page.updates]
    return SyncGetUpdatesPayload(updates=[i for i in items if i is not None], seq=page.seq, has_more=page.has_more)


OPERATIONS = [
    query("sync/get_updates", sync_get_updates),
]
