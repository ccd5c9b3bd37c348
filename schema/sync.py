"""sync/* types."""

from __future__ import annotations

import strawberry

from schema.events import UserUpdate


@strawberry.input
class SyncGetUpdatesInput:
    since: int = 0
    limit: int = 100


@strawberry.type
class SyncGetUpdatesPayload:
    updates: list[UserUpdate]
    seq: int = strawberry.field(description="the user's current update seq")
    has_more: bool
