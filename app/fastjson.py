"""JSON on the hot path: orjson where it can, the standard library where it cannot.

Every message is encoded for the event bus and decoded by each process that delivers
it, and its content and meta go to PostgreSQL as jsonb: orjson does that 5-15x faster
than `json`. What orjson refuses (integers beyond 64 bits, text with lone surrogates)
falls back to `json`, so the same values stay storable and deliverable as before.
Used only where no client sees the bytes (the bus, the database driver): what clients
receive is encoded where it always was.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # {1: x} -> {"1": x}, as json does


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, separators=(",", ":")).encode()


def dumps_text(value: Any) -> str:
    return dumps(value).decode()


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # what only json reads (NaN), or raises its own error
