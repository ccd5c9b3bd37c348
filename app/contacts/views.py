"""What the social services hand back: records joined with the other user."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from app.accounts.tables import User
from app.contacts.tables import BlacklistEntry, FriendRequest, Friendship, SharedCard

T = TypeVar("T")


class ApplyOutcome(StrEnum):
    PENDING = "pending"  # the request waits for the target
    FRIENDS = "friends"  # they are friends now (crossing requests, or no approval needed)


@dataclass(frozen=True, slots=True)
class FriendView:
    friendship: Friendship
    user: User
    channel_id: int | None


@dataclass(frozen=True, slots=True)
class RequestView:
    request: FriendRequest
    user: User  # the other party
    incoming: bool  # from the other party to the viewer


@dataclass(frozen=True, slots=True)
class ApplyResult:
    outcome: ApplyOutcome
    request: RequestView
    friend: FriendView | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    """Everything between the viewer and one other user that the viewer may know."""

    user: User
    friend: FriendView | None
    incoming: RequestView | None
    outgoing: RequestView | None
    blocked: bool  # the viewer blocked the user (whether the user blocked the viewer is never told)


@dataclass(frozen=True, slots=True)
class BlockView:
    entry: BlacklistEntry
    user: User


@dataclass(frozen=True, slots=True)
class CardView:
    card: SharedCard
    user: User  # the card's user


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def user_card(user: User) -> dict[str, Any]:
    """A snapshot of a user's public card carried inside updates, so an offline device can
    show "Ann wants to be your friend" without another round trip."""
    return {
        "id": user.id,
        "username": user.username,
        "displayName": user.display_name,
        "avatarFileId": user.avatar_file_id,
    }
