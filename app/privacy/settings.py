"""Privacy settings as values: audiences, defaults and the checks on changes. No I/O."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.errors import bad_input


class Audience(StrEnum):
    """Who a setting admits, from the widest to the narrowest."""

    EVERYONE = "everyone"
    FRIENDS_OF_FRIENDS = "friends_of_friends"  # friends, and users who share a friend with me
    FRIENDS = "friends"
    NOBODY = "nobody"


class FindVia(StrEnum):
    """How someone looks a user up."""

    USERNAME = "username"  # username or display name search
    PHONE = "phone"
    EMAIL = "email"
    QRCODE = "qrcode"


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """One user's settings. A user who never changed them has these defaults: findable by
    everyone, requests need approval, anyone may message or add to groups, presence and
    read receipts shown (what Telegram and WeChat users expect out of the box)."""

    find_by_username: Audience = Audience.EVERYONE
    find_by_phone: Audience = Audience.EVERYONE
    find_by_email: Audience = Audience.EVERYONE
    find_by_qrcode: Audience = Audience.EVERYONE
    # Who may send me a friend request (FRIENDS is meaningless here and refused).
    add_friend: Audience = Audience.EVERYONE
    # True: a request waits for my approval; False: it makes us friends at once.
    friend_approval: bool = True
    add_to_group: Audience = Audience.EVERYONE
    non_friends_may_message: bool = True
    show_online: Audience = Audience.EVERYONE
    show_read_receipts: bool = True

    def find_audience(self, via: FindVia) -> Audience:
        return {
            FindVia.USERNAME: self.find_by_username,
            FindVia.PHONE: self.find_by_phone,
            FindVia.EMAIL: self.find_by_email,
            FindVia.QRCODE: self.find_by_qrcode,
        }[via]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (audiences as their lower-case names)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.value if isinstance(value, Audience) else value
        return out


DEFAULTS = PrivacySettings()
AUDIENCE_FIELDS = frozenset(f.name for f in dataclasses.fields(PrivacySettings) if f.type in ("Audience", Audience))
FLAG_FIELDS = frozenset(f.name for f in dataclasses.fields(PrivacySettings) if f.type in ("bool", bool))
ADD_FRIEND_AUDIENCES = frozenset({Audience.EVERYONE, Audience.FRIENDS_OF_FRIENDS, Audience.NOBODY})


@dataclass(frozen=True, slots=True)
class PrivacyChanges:
    """A partial update: None leaves a setting as it is."""

    find_by_username: Audience | None = None
    find_by_phone: Audience | None = None
    find_by_email: Audience | None = None
    find_by_qrcode: Audience | None = None
    add_friend: Audience | None = None
    friend_approval: bool | None = None
    add_to_group: Audience | None = None
    non_friends_may_message: bool | None = None
    show_online: Audience | None = None
    show_read_receipts: bool | None = None

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


def check_changes(changes: PrivacyChanges) -> dict[str, Any]:
    values = changes.values()
    if not values:
        raise bad_input("nothing to update: give at least one setting")
    add_friend = values.get("add_friend")
    if add_friend is not None and add_friend not in ADD_FRIEND_AUDIENCES:
        raise bad_input("addFriend must be EVERYONE, FRIENDS_OF_FRIENDS or NOBODY", field="addFriend")
    return values


def from_row(values: dict[str, Any]) -> PrivacySettings:
    """Settings from stored values; an unknown stored audience falls back to the default."""
    out: dict[str, Any] = {}
    for name in AUDIENCE_FIELDS:
        try:
            out[name] = Audience(values[name])
        except (KeyError, ValueError):
            out[name] = getattr(DEFAULTS, name)
    for name in FLAG_FIELDS:
        out[name] = bool(values.get(name, getattr(DEFAULTS, name)))
    return PrivacySettings(**out)
