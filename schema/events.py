"""Items of the per-user `events` subscription (also pushed as native PUSH frames)."""

from __future__ import annotations

from typing import Annotated

import strawberry


@strawberry.type(description="One or more device sessions of the user were revoked or kicked.")
class SessionRevokedEvent:
    session_ids: list[strawberry.ID]
    device_ids: list[str]
    reason: str


@strawberry.type(description="The server could not deliver everything live: re-sync from the last pts/seq.")
class ResyncRequiredEvent:
    reason: str


Event = Annotated[SessionRevokedEvent | ResyncRequiredEvent, strawberry.union("Event")]
