"""Message types and `check_content`: untrusted content in, a normalised dict out."""

from __future__ import annotations

import json
import math
import re
from enum import StrEnum
from typing import Any

from app.errors import bad_input


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"
    LOCATION = "location"
    CARD = "card"
    STICKER = "sticker"
    SYSTEM = "system"  # written by the server only


SENDABLE = frozenset(MessageType) - {MessageType.SYSTEM}
FILE_ID_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,128}\Z")
MIME_RE = re.compile(r"^[a-z0-9!#$&^_.+\-]{1,64}/[a-z0-9!#$&^_.+\-]{1,96}\Z")
MAX_META_BYTES = 4096
MAX_DURATION_MS = 24 * 3600 * 1000
MAX_DIMENSION = 100_000
MAX_FILE_BYTES = 1 << 40


def _str(value: Any, field: str, *, max_length: int, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise bad_input(f"{field} is required", field=field)
        return None
    if not isinstance(value, str):
        raise bad_input(f"{field} must be a string", field=field)
    if len(value) > max_length:
        raise bad_input(f"{field} must be at most {max_length} characters", field=field)
    return value


def _int(value: Any, field: str, *, low: int, high: int, required: bool = False) -> int | None:
    if value is None:
        if required:
            raise bad_input(f"{field} is required", field=field)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_input(f"{field} must be an integer in {low}..{high}", field=field)
    return value


def _file_id(value: Any, field: str, *, required: bool = True) -> str | None:
    text = _str(value, field, max_length=128, required=required)
    if text is not None and not FILE_ID_RE.match(text):
        raise bad_input(f"{field} is not a valid file id", field=field)
    return text


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def check_content(kind: MessageType, content: dict[str, Any], *, max_text_length: int) -> dict[str, Any]:
    """Validate one message's content for its type; returns what is stored."""
    if kind not in SENDABLE:
        raise bad_input(f"messages of type {kind.value} cannot be sent by clients", field="content")
    c = content
    if kind is MessageType.TEXT:
        text = _str(c.get("text"), "text", max_length=max_text_length)
        assert text is not None
        if not text.strip():
            raise bad_input("text must not be blank", field="text")
        return {"text": text}
    if kind is MessageType.IMAGE:
        return _drop_none(
            {
                "fileId": _file_id(c.get("fileId"), "fileId"),
                "width": _int(c.get("width"), "width", low=1, high=MAX_DIMENSION),
                "height": _int(c.get("height"), "height", low=1, high=MAX_DIMENSION),
                "thumbnailFileId": _file_id(c.get("thumbnailFileId"), "thumbnailFileId", required=False),
                "caption": _str(c.get("caption"), "caption", max_length=1024, required=False),
            }
        )
    if kind is MessageType.AUDIO:
        return _drop_none(
            {
                "fileId": _file_id(c.get("fileId"), "fileId"),
                "durationMs": _int(c.get("durationMs"), "durationMs", low=1, high=MAX_DURATION_MS, required=True),
            }
        )
    if kind is MessageType.VIDEO:
        return _drop_none(
            {
                "fileId": _file_id(c.get("fileId"), "fileId"),
                "durationMs": _int(c.get("durationMs"), "durationMs", low=1, high=MAX_DURATION_MS, required=True),
                "width": _int(c.get("width"), "width", low=1, high=MAX_DIMENSION),
                "height": _int(c.get("height"), "height", low=1, high=MAX_DIMENSION),
                "thumbnailFileId": _file_id(c.get("thumbnailFileId"), "thumbnailFileId", required=False),
            }
        )
    if kind is MessageType.FILE:
        mime = _str(c.get("mimeType"), "mimeType", max_length=161, required=False)
        if mime is not None and not MIME_RE.match(mime.lower()):
            raise bad_input("mimeType is not a valid media type", field="mimeType")
        name = _str(c.get("name"), "name", max_length=255)
        assert name is not None
        if "/" in name or "\\" in name or "\x00" in name:
            raise bad_input("name must be a plain file name", field="name")
        return _drop_none(
            {
                "fileId": _file_id(c.get("fileId"), "fileId"),
                "name": name,
                "size": _int(c.get("size"), "size", low=0, high=MAX_FILE_BYTES, required=True),
                "mimeType": mime.lower() if mime else None,
            }
        )
    if kind is MessageType.LOCATION:
        lat, lng = c.get("latitude"), c.get("longitude")
        for value, field, bound in ((lat, "latitude", 90.0), (lng, "longitude", 180.0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise bad_input(f"{field} must be a number", field=field)
            if not -bound <= float(value) <= bound:
                raise bad_input(f"{field} must be within ±{bound:g}", field=field)
        return _drop_none(
            {
                "latitude": float(lat),  # type: ignore[arg-type]
                "longitude": float(lng),  # type: ignore[arg-type]
                "title": _str(c.get("title"), "title", max_length=256, required=False),
                "address": _str(c.get("address"), "address", max_length=512, required=False),
            }
        )
    if kind is MessageType.CARD:
        user_id = c.get("userId")
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
            raise bad_input("userId must be a user id", field="userId")
        return {"userId": user_id}
    if kind is MessageType.STICKER:
        return {
            "packageId": _str(c.get("packageId"), "packageId", max_length=64),
            "stickerId": _str(c.get("stickerId"), "stickerId", max_length=64),
        }
    raise bad_input(f"unknown message type {kind}", field="type")  # pragma: no cover


def check_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """Free client metadata: a small JSON object, bounded in size."""
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise bad_input("meta must be an object", field="meta")
    if len(json.dumps(meta, separators=(",", ":"))) > MAX_META_BYTES:
        raise bad_input(f"meta must be at most {MAX_META_BYTES} bytes of JSON", field="meta")
    return meta


def preview(kind: str, content: dict[str, Any], *, revoked: bool = False) -> str:
    """A one-line text for conversation lists and notifications."""
    if revoked:
        return "[recalled]"
    if kind == MessageType.TEXT:
        text = str(content.get("text", ""))
        return text if len(text) <= 80 else text[:79] + "…"
    if kind == MessageType.SYSTEM:
        return str(content.get("text", ""))
    return {
        "image": "[image]",
        "audio": "[voice]",
        "video": "[video]",
        "file": "[file]",
        "location": "[location]",
        "card": "[contact card]",
        "sticker": "[sticker]",
    }.get(kind, "[message]")
