"""Page limits and opaque keyset cursors: the one paging helper every list uses."""

from __future__ import annotations

import base64
import json

from app.errors import bad_input

MAX_PAGE = 100
MAX_CURSOR_LENGTH = 256


def check_limit(limit: int, maximum: int = MAX_PAGE) -> int:
    if not 1 <= limit <= maximum:
        raise bad_input(f"limit must be 1..{maximum}", field="limit")
    return limit


def encode(*parts: int | str) -> str:
    """A cursor clients pass back verbatim and must not parse."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, *kinds: type) -> tuple[int | str, ...] | None:
    """The parts of a cursor made by `encode`, checked against `kinds` (int or str);
    anything else (forged, truncated, from another list) is BAD_USER_INPUT."""
    if cursor is None or cursor == "":
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(parts, list) or len(parts) != len(kinds):
            raise ValueError
        for part, kind in zip(parts, kinds, strict=True):
            if type(part) is not kind or (isinstance(part, int) and not 0 <= part < 2**63):
                raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise bad_input("invalid cursor", field="cursor") from None
    return tuple(parts)


def decode_ints(cursor: str | None, count: int) -> tuple[int, ...] | None:
    parts = decode(cursor, *([int] * count))
    return None if parts is None else tuple(int(p) for p in parts)
