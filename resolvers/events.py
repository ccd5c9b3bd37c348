"""events: the one per-user update stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.context import RequestContext
from app.ops import Audience, subscription
from schema.events import Event, EventsInput
from schema.fanout import shared_event_object


async def events(ctx: RequestContext, input: EventsInput | None) -> AsyncIterator[Event]:
    """Everything that happens to the caller, live: channel events with pts, user updates
    with seq. A gap in pts/seq means: fetch the difference."""
    hold = input.hold_until_ready if input is not None else False
    async for message in ctx.services.hub.stream(ctx.principal, hold=hold):
        item = shared_event_object(message)  # one object per item and process, for every subscriber
        if item is not None:
            yield item


OPERATIONS = [
    subscription("events", events, audience=Audience.SELF),
]
