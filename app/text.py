"""Strings at the boundary: one check for every input, one repair for every output.

Every operation's input passes `check_input` on the shared path (`Operation.invoke`),
whichever door it came through: a string holding a lone UTF-16 surrogate (JSON allows
`"\\ud800"`, UTF-8 cannot encode it) or NUL (PostgreSQL text and jsonb cannot store it)
is refused with BAD_USER_INPUT naming the field, before any rule or storage sees it.

Output never trusts that check alone (rows written before it existed, another writer of
the database): `repair` replaces what cannot be encoded with U+FFFD and says where, so a
door can log it, count it, tell the client and keep the page or the stream alive.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from app.errors import AppError, ErrorCode

# Lone (or any) surrogate code points and NUL.
_BAD = re.compile("[\x00\ud800-\udfff]")
# A surrogate pair that made it into a str unjoined is as unencodable as a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# Deeper inputs are refused by each door's own nesting limits long before this.
_MAX_DEPTH = 64

_field_names: dict[type, list[tuple[str, str]]] = {}
_leaf_types: set[type] = set()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _fields_of(cls: type) -> list[tuple[str, str]]:
    """(attribute, wire name) of an input dataclass, worked out once per class."""
    names = _field_names.get(cls)
    if names is None:
        names = _field_names[cls] = [
            (f.name, _camel(f.name)) for f in dataclasses.fields(cls) if not f.name.startswith("_")
        ]
    return names


def bad_string_problem(value: str) -> str | None:
    """Why a string may not enter, or None."""
    if value.isascii():
        return "must not contain NUL characters" if "\x00" in value else None
    match = _BAD.search(value)
    if match is None:
        return None
    if match.group() == "\x00":
        return "must not contain NUL characters"
    return "is not valid Unicode (it holds a lone surrogate)"


def check_input(value: Any, path: str = "input") -> None:
    """Refuse the first string in `value` (an input object, map, list or scalar) that
    cannot be stored and served, naming its field (`input.content.text.text`)."""
    found = _find(value, 0)
    if found is not None:
        parts, problem = found
        where = path + "".join(reversed(parts))
        raise AppError(ErrorCode.BAD_USER_INPUT, f"{where} {problem}", field=where)


_SCALARS = (bool, int, float)


def _find(value: Any, depth: int) -> tuple[list[str], str] | None:
    """(path parts, innermost first; the problem) of the first bad string, or None. The
    path is only built for a finding: this runs on every call of every operation."""
    if value is None or isinstance(value, _SCALARS) or depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        problem = bad_string_problem(value)
        return ([], problem) if problem is not None else None
    cls = type(value)
    if cls in _leaf_types:
        return None
    names = _field_names.get(cls)
    if names is None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and bad_string_problem(key) is not None:
                    return [], "has a key that is not valid text"
                found = _find(item, depth + 1)
                if found is not None:
                    found[0].append(f".{key}")
                    return found
            return None
        if isinstance(value, list | tuple):
            for index, item in enumerate(value):
                found = _find(item, depth + 1)
                if found is not None:
                    found[0].append(f"[{index}]")
                    return found
            return None
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            _leaf_types.add(cls)  # enums, UNSET, uploads...: nothing to look into
            return None
        names = _fields_of(cls)
    for attribute, wire_name in names:
        item = getattr(value, attribute, None)
        if item is None or isinstance(item, _SCALARS):
            continue
        found = _find(item, depth + 1)
        if found is not None:
            found[0].append(f".{wire_name}")
            return found
    return None


def repair(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """`value` (maps, lists, scalars) with every surrogate replaced by U+FFFD, and the
    paths where that happened. Unchanged values are returned as they are."""
    paths: list[str] = []
    return _repair(value, path, paths), paths


def _repair(value: Any, path: str, paths: list[str]) -> Any:
    if isinstance(value, str):
        if value.isascii() or _SURROGATE.search(value) is None:
            return value
        paths.append(path)
        return _SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {_repair(k, path, paths): _repair(v, f"{path}.{k}" if path else str(k), paths) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_repair(v, f"{path}[{i}]", paths) for i, v in enumerate(value)]
    return value
