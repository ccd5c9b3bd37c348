"""Opaque keyset cursors: (timestamp, id) pairs, base64 so clients don't parse them."""

from __future__ import annotations

import base64

from app.errors import bad_input


def encode(at: int, item_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at}:{item_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None, field: str = "cursor") -> tuple[int, int] | None:
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, item_id = raw.split(":")
        pair = int(at), int(item_id)
    except (ValueError, UnicodeDecodeError):
        raise bad_input("invalid cursor", field=field) from None
    if pair[0] < 0 or pair[1] < 0 or len(cursor) > 64:
        raise bad_input("invalid cursor", field=field)
    return pair
