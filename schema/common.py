"""Shared scalars and conversions between domain values and GraphQL values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType

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


def _parse_long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Long must be an integer")
    number = int(value)
    if not -(2**63) <= number <= INT64_MAX:
        raise ValueError("Long out of range")
    return number


Long = NewType("Long", int)
# Registered in the schema config (schema/build.py): GraphQL's Int is only 32 bits.
SCALAR_MAP: dict[object, Any] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer (milliseconds since the epoch, byte sizes).",
        serialize=int,
        parse_value=_parse_long,
    )
}
