"""Checks on untrusted social input: sources, request messages, aliases."""

from __future__ import annotations

from enum import StrEnum

from app.errors import bad_input
from app.names import check_name

MAX_MESSAGE_LENGTH = 200
MAX_ALIAS_LENGTH = 64


class FriendSource(StrEnum):
    """How the requester found the user."""

    SEARCH = "search"
    QRCODE = "qrcode"
    GROUP = "group"
    CARD = "card"
    PHONE = "phone"
    ADMIN = "admin"  # created by an administrator, never given by a client


APPLY_SOURCES = frozenset(FriendSource) - {FriendSource.ADMIN}


class RequestStatus(StrEnum):
    NONE = "none"  # the pair's lock row: no request was ever made in this state
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RECALLED = "recalled"  # withdrawn by the requester
    CANCELLED = "cancelled"  # dropped silently when the requester blocked the target


def _printable(text: str, *, allow_newlines: bool) -> bool:
    return all(ord(c) >= 32 or (allow_newlines and c == "\n") for c in text) and "\x7f" not in text


def check_source(source: str) -> FriendSource:
    try:
        value = FriendSource(source)
    except ValueError:
        value = None
    if value is None or value not in APPLY_SOURCES:
        raise bad_input("source must be one of search, qrcode, group, card, phone", field="source")
    return value


def check_message(message: str | None) -> str | None:
    if message is None:
        return None
    message = message.strip()
    if len(message) > MAX_MESSAGE_LENGTH:
        raise bad_input(f"message must be at most {MAX_MESSAGE_LENGTH} characters", field="message")
    if not _printable(message, allow_newlines=True):
        raise bad_input("message must be printable text", field="message")
    return message or None


def check_alias(alias: str | None) -> str | None:
    """An alias; empty or None clears it."""
    if alias is None:
        return None
    if not alias.strip():
        return None
    return check_name(alias, field="alias", max_length=MAX_ALIAS_LENGTH, what="alias")


def check_other(actor_id: int, user_id: int, what: str) -> int:
    if actor_id == user_id:
        raise bad_input(f"cannot {what} yourself", field="userId")
    return user_id
