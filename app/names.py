"""One rule for every name a person gives and others see: display names, group names,
device names, aliases.

A name is NFC-normalised and trimmed, 1..max characters, holds no control characters, no
line or paragraph separators and no bidirectional overrides, embeddings or isolates
(U+202A-202E, U+2066-2069: "gpj.exe" shown as "exe.jpg", a name that swallows the text
after it), and is not invisible-only (zero-width and other format characters, combining
marks and spaces alone). Zero-width joiners inside a name are fine: emoji need them.
"""

from __future__ import annotations

import unicodedata

from app.errors import bad_input

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc"})


def name_problem(name: str) -> str | None:
    """Why `name` (already normalised and trimmed) is no name, or None."""
    for char in name:
        category = unicodedata.category(char)
        if category == "Cc":
            return "must not contain control characters"
        if category in ("Zl", "Zp"):
            return "must be one line"
        if char in BIDI_CONTROLS:
            return "must not contain bidirectional override characters"
        if category in ("Cs", "Co") or char == "\ufeff":
            return "must be plain text"
    if all(unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in name):
        return "must contain visible characters"
    return None


def check_name(value: str, *, field: str, max_length: int, what: str = "name") -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not 1 <= len(name) <= max_length:
        raise bad_input(f"{what} must be 1-{max_length} characters", field=field)
    problem = name_problem(name)
    if problem is not None:
        raise bad_input(f"{what} {problem}", field=field)
    return name
