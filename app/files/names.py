"""File names from clients: made safe to store and to send back in Content-Disposition."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME_CHARS = 255
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')
_SPACES = re.compile(r"\s+")


def sanitise_name(name: str, *, fallback: str = "file") -> str:
    """A plain file name: no directories, no control or bidi characters, no leading dots,
    at most 255 characters (the extension kept). Never empty."""
    text = unicodedata.normalize("NFC", name)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]  # C:\\x\\a.png and ../../a.png alike -> a.png
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    text = _UNSAFE.sub("_", text)
    text = _SPACES.sub(" ", text).strip().lstrip(".").strip()
    if not text:
        return fallback
    if len(text) > MAX_NAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            text = stem[: MAX_NAME_CHARS - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_NAME_CHARS]
    return text


def content_disposition(name: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name (RFC 5987)."""
    kind = "inline" if inline else "attachment"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or "file"
    ascii_name = ascii_name.replace('"', "_").replace("\\", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
