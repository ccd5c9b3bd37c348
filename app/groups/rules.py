"""Checks on untrusted group input, and the group's limits. No I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence

from app import names
from app.errors import bad_input

# The most members any group may have: the owner may raise a group's limit (500 by
# default, app.groups.tables.DEFAULT_MAX_MEMBERS) up to this, not beyond.
SERVER_MAX_MEMBERS = 2000
MIN_MAX_MEMBERS = 2
MAX_NAME_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 512
MAX_ANNOUNCEMENT_LENGTH = 2000
MAX_REQUEST_MESSAGE_LENGTH = 256
# Users one create/add call may name (a 500-member group is built in a few calls).
MAX_USERS_PER_CALL = 500
MAX_MUTE_SECONDS = 366 * 24 * 3600
# A mute without a duration lasts until unmuted.
MUTED_FOREVER = 2**63 - 1
# Group QR codes always expire: 7 days unless asked otherwise (WeChat's habit).
DEFAULT_QR_TTL_SECONDS = 7 * 24 * 3600
MIN_QR_TTL_SECONDS = 60
MAX_QR_TTL_SECONDS = 365 * 24 * 3600
QR_PREFIX = "privchat://group/"
QR_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}\Z")


def _printable(text: str) -> bool:
    return not any(ord(c) < 32 and c not in "\n\t" for c in text)


def check_name(name: str) -> str:
    return names.check_name(name, field="name", max_length=MAX_NAME_LENGTH)


def check_description(text: str | None) -> str | None:
    """None or "" clears it."""
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH or not _printable(text):
        raise bad_input(
            f"description must be at most {MAX_DESCRIPTION_LENGTH} printable characters", field="description"
        )
    return text or None


def check_announcement(text: str | None) -> str | None:
    """None or "" clears it."""
    text = (text or "").strip()
    if len(text) > MAX_ANNOUNCEMENT_LENGTH or not _printable(text):
        raise bad_input(
            f"announcement must be at most {MAX_ANNOUNCEMENT_LENGTH} printable characters", field="announcement"
        )
    return text or None


def check_request_message(text: str | None) -> str | None:
    text = (text or "").strip()
    if len(text) > MAX_REQUEST_MESSAGE_LENGTH or not _printable(text):
        raise bad_input(f"message must be at most {MAX_REQUEST_MESSAGE_LENGTH} characters", field="message")
    return text or None


def check_max_members(value: int, *, member_count: int) -> int:
    if not MIN_MAX_MEMBERS <= value <= SERVER_MAX_MEMBERS:
        raise bad_input(f"maxMembers must be {MIN_MAX_MEMBERS}..{SERVER_MAX_MEMBERS}", field="maxMembers")
    if value < member_count:
        raise bad_input(f"the group has {member_count} members already", field="maxMembers")
    return value


def check_user_ids(user_ids: Sequence[int], *, actor_id: int, field: str = "userIds", allow_empty: bool) -> list[int]:
    """Distinct ids, in the order given, never the actor's own."""
    ids = list(dict.fromkeys(user_ids))
    if not ids and not allow_empty:
        raise bad_input("name at least one user", field=field)
    if len(ids) > MAX_USERS_PER_CALL:
        raise bad_input(f"at most {MAX_USERS_PER_CALL} users per call", field=field)
    if actor_id in ids:
        raise bad_input("you cannot name yourself here", field=field)
    return ids


def check_mute_seconds(seconds: int | None) -> int | None:
    """None: until unmuted."""
    if seconds is not None and not 1 <= seconds <= MAX_MUTE_SECONDS:
        raise bad_input(f"durationSeconds must be 1..{MAX_MUTE_SECONDS}", field="durationSeconds")
    return seconds


def check_qr_ttl(seconds: int | None) -> int:
    if seconds is None:
        return DEFAULT_QR_TTL_SECONDS
    if not MIN_QR_TTL_SECONDS <= seconds <= MAX_QR_TTL_SECONDS:
        raise bad_input(
            f"expiresInSeconds must be {MIN_QR_TTL_SECONDS}..{MAX_QR_TTL_SECONDS}", field="expiresInSeconds"
        )
    return seconds


def parse_qr(code: str) -> str:
    """The token of a scanned group code (or of a bare token)."""
    code = code.strip()
    token = code[len(QR_PREFIX) :] if code.startswith(QR_PREFIX) else code
    if not QR_TOKEN_RE.match(token):
        raise bad_input("not a PrivChat group QR code", field="qrcode")
    return token


def is_muted(muted_until: int | None, now: int) -> bool:
    """A timed mute ends on its own: nothing has to clear it."""
    return muted_until is not None and muted_until > now


def join_names(names: Sequence[str], *, most: int = 5) -> str:
    """Names for a system line: "Bob and Carol", "Bob, Carol and Dan", "A, B, C, D, E and 3 others"."""
    if len(names) <= 1:
        return "".join(names)
    if len(names) <= most:
        return ", ".join(names[:-1]) + " and " + names[-1]
    rest = len(names) - most
    return ", ".join(names[:most]) + f" and {rest} other" + ("s" if rest > 1 else "")
