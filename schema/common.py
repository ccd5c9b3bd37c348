"""Shared scalars and conversions between domain values and GraphQL values."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from app.errors import bad_input

INT64_MAX = 2**63 - 1


def parse_id(value: strawberry.ID | str | int, field: str = "id") -> int:
    """GraphQL IDs are strings on the wire and int64 inside."""
    text = str(value).strip()
    if not text.isdigit() or len(text) > 19 or int(text) > INT64_MAX or int(text) <= 0:
        raise bad_input(f"{field} is not a valid id", field=field)
    return int(text)


def to_id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def from_ms_required(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@strawberry.type(description="Acknowledges a mutation that returns nothing else.")
class Ok:
    ok: bool = True
