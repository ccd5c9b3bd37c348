"""events: the one per-user update stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from app.context import RequestContext
from app.ops import subscription
from schema.common import to_id
from schema.events import Event, ResyncRequiredEvent, SessionRevokedEvent


def to_event(message: dict[str, Any]) -> Event | None:
    kind = message.get("type")
    if kind == "session_revoked":
        return SessionRevokedEvent(
            session_ids=[to_id(i) for i in message["sessionIds"]],
            device_ids=list(message.get("deviceIds", [])),
            reason=message["reason"],
        )
    if kind == "resync_required":
        return ResyncRequiredEvent(reason=message.get("reason", "overflow"))
    return None


async def events(ctx: RequestContext) -> AsyncIterator[Event]:
    """Everything that happens to the caller, live."""
    async for message in ctx.services.events.stream(ctx.principal):
        event = to_event(message)
        if event is not None:
            yield event


OPERATIONS = [
    subscription("events", events),
]
