"""System types."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type
class SystemHealthPayload:
    status: str
    version: str
    server_time: datetime
    database: bool
