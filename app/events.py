"""The per-user event stream that GraphQL subscriptions and native PUSH frames deliver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from app.bus import EventBus
from app.bus.bus import user_topic
from app.context import Principal
from app.errors import AppError, ErrorCode


class EventStreams:
    def __init__(self, *, bus: EventBus) -> None:
        self.bus = bus

    async def stream(self, principal: Principal) -> AsyncIterator[dict[str, Any]]:
        """Bus messages addressed to the user. Ends with SESSION_REVOKED once this very
        device session is revoked (after delivering the revocation itself)."""
        async with self.bus.subscribe(user_topic(principal.user_id)) as subscription:
            async for message in subscription:
                yield message
                if message.get("type") == "session_revoked" and principal.session_id in message.get(
                    "sessionIds", ()
                ):
                    raise AppError(ErrorCode.SESSION_REVOKED, "this device session was revoked")
