"""events: the one per-user update stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.context import RequestContext
from app.ops import subscription
from schema.events import Event, event_object


async def events(ctx: RequestContext) -> AsyncIterator[Event]:
    """Everything that happens to the caller, live: channel events with pts, user updates
    with seq. A gap in pts/seq means: fetch the difference."""
    async for message in ctx.services.hub.stream(ctx.principal):
        item = event_object(message)
        if item is not None:
            yield item


OPERATIONS = [
    subscription("events", events),
]
