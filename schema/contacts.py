"""contact/friend/*, contact/blacklist/*, account/user/share_card types, and the social
items of the `events` stream."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from app.contacts.views import ApplyResult, BlockView, CardView, FriendView, Relation, RequestView
from schema.accounts import User
from schema.common import from_ms_required, to_id
from schema.event_interfaces import UserUpdateEvent


@strawberry.enum(description="How the requester found the user.")
class FriendApplySource(Enum):
    SEARCH = "search"
    QRCODE = "qrcode"
    GROUP = "group"
    CARD = "card"
    PHONE = "phone"


@strawberry.enum(description="How a friendship came about, as one side sees it.")
class FriendSource(Enum):
    SEARCH = "search"
    QRCODE = "qrcode"
    GROUP = "group"
    CARD = "card"
    PHONE = "phone"
    ADMIN = "admin"


@strawberry.enum
class FriendRequestStatus(Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RECALLED = "recalled"


@strawberry.enum
class FriendRequestDirection(Enum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


@strawberry.enum(description="PENDING: the request waits for the user. FRIENDS: you are friends now.")
class FriendApplyOutcome(Enum):
    PENDING = "pending"
    FRIENDS = "friends"


def friend_source(value: str) -> FriendSource:
    try:
        return FriendSource(value)
    except ValueError:
        return FriendSource.SEARCH


def _status(value: str) -> FriendRequestStatus:
    # A request dropped because its sender blocked the target reads as withdrawn.
    return FriendRequestStatus.RECALLED if value == "cancelled" else FriendRequestStatus(value)


def user_from_card(card: dict[str, Any]) -> User:
    """The user snapshot an update carries (see app.contacts.views.user_card)."""
    return User(
        id=to_id(int(card["id"])),
        username=str(card.get("username", "")),
        display_name=str(card.get("displayName", "")),
        avatar_file_id=card.get("avatarFileId"),
        bio=None,
    )


def _optional_id(value: Any) -> strawberry.ID | None:
    return None if value is None else to_id(int(value))


@strawberry.type(description="A friend, with the caller's private alias for them.")
class Friend:
    user: User
    alias: str | None
    source: FriendSource
    since: datetime
    channel_id: strawberry.ID | None = strawberry.field(description="the direct channel with this friend")

    @classmethod
    def from_view(cls, view: FriendView) -> Friend:
        f = view.friendship
        return cls(
            user=User.from_record(view.user),
            alias=f.alias,
            source=friend_source(f.source),
            since=from_ms_required(f.created_at),
            channel_id=_optional_id(view.channel_id),
        )


@strawberry.type
class FriendRequest:
    id: strawberry.ID
    user: User = strawberry.field(description="the other party: the requester if incoming, the target if outgoing")
    direction: FriendRequestDirection
    message: str | None
    source: FriendSource
    status: FriendRequestStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_view(cls, view: RequestView) -> FriendRequest:
        r = view.request
        assert r.id is not None
        return cls(
            id=to_id(r.id),
            user=User.from_record(view.user),
            direction=FriendRequestDirection.INCOMING if view.incoming else FriendRequestDirection.OUTGOING,
            message=r.message,
            source=friend_source(r.source),
            status=_status(r.status),
            created_at=from_ms_required(r.created_at),
            updated_at=from_ms_required(r.updated_at),
        )


@strawberry.type
class BlacklistEntry:
    user: User
    blocked_at: datetime

    @classmethod
    def from_view(cls, view: BlockView) -> BlacklistEntry:
        return cls(user=User.from_record(view.user), blocked_at=from_ms_required(view.entry.created_at))


@strawberry.type(description="A user's card sent to someone, who may apply to that user with source CARD.")
class SharedCard:
    id: strawberry.ID
    user: User
    to_user_id: strawberry.ID
    shared_at: datetime

    @classmethod
    def from_view(cls, view: CardView) -> SharedCard:
        card = view.card
        assert card.id is not None
        return cls(
            id=to_id(card.id),
            user=User.from_record(view.user),
            to_user_id=to_id(card.to_user_id),
            shared_at=from_ms_required(card.created_at),
        )


# --- inputs and payloads -------------------------------------------------------------


@strawberry.input
class ContactFriendApplyInput:
    user_id: strawberry.ID
    source: FriendApplySource
    message: str | None = None
    qr_token: str | None = strawberry.field(
        default=None, description="with source QRCODE: the scanned code (the user's current QR token) that led here"
    )
    search_proof: str | None = strawberry.field(
        default=None,
        description="with source SEARCH or PHONE: the `searchProof` of the search result that found this user",
    )


@strawberry.type
class ContactFriendApplyPayload:
    outcome: FriendApplyOutcome
    request: FriendRequest
    friend: Friend | None = strawberry.field(description="set when the outcome is FRIENDS")
    channel_id: strawberry.ID | None = strawberry.field(description="the direct channel, when the outcome is FRIENDS")

    @classmethod
    def from_result(cls, result: ApplyResult) -> ContactFriendApplyPayload:
        friend = Friend.from_view(result.friend) if result.friend is not None else None
        return cls(
            outcome=FriendApplyOutcome(result.outcome.value),
            request=FriendRequest.from_view(result.request),
            friend=friend,
            channel_id=friend.channel_id if friend is not None else None,
        )


@strawberry.input
class ContactFriendAcceptInput:
    user_id: strawberry.ID = strawberry.field(description="the requester")


@strawberry.type
class ContactFriendAcceptPayload:
    friend: Friend
    channel_id: strawberry.ID = strawberry.field(description="the direct channel with the new friend")


@strawberry.input
class ContactFriendRejectInput:
    user_id: strawberry.ID = strawberry.field(description="the requester")


@strawberry.type
class ContactFriendRejectPayload:
    request: FriendRequest


@strawberry.input
class ContactFriendRecallInput:
    user_id: strawberry.ID = strawberry.field(description="the user the caller sent the request to")


@strawberry.type
class ContactFriendRecallPayload:
    request: FriendRequest


@strawberry.input
class ContactFriendRemoveInput:
    user_id: strawberry.ID


@strawberry.input
class ContactFriendListInput:
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class ContactFriendListPayload:
    friends: list[Friend]
    next_cursor: str | None = strawberry.field(description="pass as `cursor` for the next page; null on the last")


@strawberry.input
class ContactFriendPendingInput:
    direction: FriendRequestDirection = FriendRequestDirection.INCOMING
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class ContactFriendPendingPayload:
    requests: list[FriendRequest]
    next_cursor: str | None


@strawberry.input
class ContactFriendCheckInput:
    user_id: strawberry.ID


@strawberry.type
class ContactFriendCheckPayload:
    user: User
    is_friend: bool
    friend: Friend | None
    incoming_request: FriendRequest | None
    outgoing_request: FriendRequest | None
    blocked: bool = strawberry.field(description="the caller has this user in their blacklist")

    @classmethod
    def from_relation(cls, rel: Relation) -> ContactFriendCheckPayload:
        return cls(
            user=User.from_record(rel.user),
            is_friend=rel.friend is not None,
            friend=Friend.from_view(rel.friend) if rel.friend is not None else None,
            incoming_request=FriendRequest.from_view(rel.incoming) if rel.incoming is not None else None,
            outgoing_request=FriendRequest.from_view(rel.outgoing) if rel.outgoing is not None else None,
            blocked=rel.blocked,
        )


@strawberry.input
class ContactFriendSetAliasInput:
    user_id: strawberry.ID
    alias: str | None = strawberry.field(default=None, description="null or empty clears the alias")


@strawberry.type
class ContactFriendSetAliasPayload:
    friend: Friend


@strawberry.input
class ContactBlacklistAddInput:
    user_id: strawberry.ID


@strawberry.type
class ContactBlacklistAddPayload:
    entry: BlacklistEntry


@strawberry.input
class ContactBlacklistRemoveInput:
    user_id: strawberry.ID


@strawberry.input
class ContactBlacklistListInput:
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class ContactBlacklistListPayload:
    entries: list[BlacklistEntry]
    next_cursor: str | None


@strawberry.input
class ContactBlacklistCheckInput:
    user_id: strawberry.ID


@strawberry.type
class ContactBlacklistCheckPayload:
    blocked: bool = strawberry.field(description="the caller has this user in their blacklist")


@strawberry.input
class AccountUserShareCardInput:
    user_id: strawberry.ID = strawberry.field(description="whose card")
    to_user_id: strawberry.ID = strawberry.field(description="who receives it")


@strawberry.type
class AccountUserShareCardPayload:
    card: SharedCard


# --- events (user updates) -----------------------------------------------------------


def _request_fields(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": _optional_id(payload.get("requestId")),
        "from_user_id": to_id(int(payload["fromUserId"])),
        "to_user_id": to_id(int(payload["toUserId"])),
    }


@strawberry.type(description="Someone asked the user to be friends.")
class FriendRequestReceivedEvent(UserUpdateEvent):
    request_id: strawberry.ID | None
    from_user_id: strawberry.ID
    to_user_id: strawberry.ID
    user: User = strawberry.field(description="the requester (as they were when asking)")
    request_message: str | None = strawberry.field(description="the requester's greeting")
    source: FriendSource

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> FriendRequestReceivedEvent:
        return cls(
            seq=seq,
            **_request_fields(payload),
            user=user_from_card(payload["user"]),
            request_message=payload.get("message"),
            source=friend_source(str(payload.get("source", ""))),
        )


@strawberry.type(description="The user's friend request was accepted (a FriendAddedEvent comes with it).")
class FriendRequestAcceptedEvent(UserUpdateEvent):
    request_id: strawberry.ID | None
    from_user_id: strawberry.ID
    to_user_id: strawberry.ID
    user: User = strawberry.field(description="who accepted")
    channel_id: strawberry.ID = strawberry.field(description="the direct channel with the new friend")

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> FriendRequestAcceptedEvent:
        return cls(
            seq=seq,
            **_request_fields(payload),
            user=user_from_card(payload["user"]),
            channel_id=to_id(int(payload["channelId"])),
        )


@strawberry.type(description="The user's friend request was rejected.")
class FriendRequestRejectedEvent(UserUpdateEvent):
    request_id: strawberry.ID | None
    from_user_id: strawberry.ID
    to_user_id: strawberry.ID

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> FriendRequestRejectedEvent:
        return cls(seq=seq, **_request_fields(payload))


@strawberry.type(description="A friend request to the user was withdrawn by its sender.")
class FriendRequestRecalledEvent(UserUpdateEvent):
    request_id: strawberry.ID | None
    from_user_id: strawberry.ID
    to_user_id: strawberry.ID

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> FriendRequestRecalledEvent:
        return cls(seq=seq, **_request_fields(payload))


@strawberry.type(description="The user has a new friend (both sides get one).")
class FriendAddedEvent(UserUpdateEvent):
    user_id: strawberry.ID
    user: User
    channel_id: strawberry.ID = strawberry.field(description="the direct channel with the new friend")
    source: FriendSource
    request_id: strawberry.ID | None

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> FriendAddedEvent:
        return cls(
            seq=seq,
            user_id=to_id(int(payload["userId"])),
            user=user_from_card(payload["user"]),
            channel_id=to_id(int(payload["channelId"])),
            source=friend_source(str(payload.get("source", ""))),
            request_id=_optional_id(payload.get("requestId")),
        )


@strawberry.type(description="A friendship of the user ended (both sides get one).")
class FriendRemovedEvent(UserUpdateEvent):
    user_id: strawberry.ID = strawberry.field(description="the former friend")
    removed_by: strawberry.ID | None = strawberry.field(description="who ended it (null: an administrator)")

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> FriendRemovedEvent:
        return cls(seq=seq, user_id=to_id(int(payload["userId"])), removed_by=_optional_id(payload.get("removedBy")))


@strawberry.type(description="The user renamed a friend (sent to the user's own devices).")
class FriendAliasChangedEvent(UserUpdateEvent):
    user_id: strawberry.ID
    alias: str | None

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> FriendAliasChangedEvent:
        return cls(seq=seq, user_id=to_id(int(payload["userId"])), alias=payload.get("alias"))


@strawberry.type(description="The user blocked or unblocked someone (sent to the user's own devices only).")
class BlacklistChangedEvent(UserUpdateEvent):
    user_id: strawberry.ID
    blocked: bool

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> BlacklistChangedEvent:
        return cls(seq=seq, user_id=to_id(int(payload["userId"])), blocked=bool(payload.get("blocked")))


@strawberry.type(description="Someone sent the user a card; apply to its user with source CARD.")
class CardSharedEvent(UserUpdateEvent):
    card_id: strawberry.ID | None
    from_user: User
    user: User = strawberry.field(description="whose card it is")

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> CardSharedEvent:
        return cls(
            seq=seq,
            card_id=_optional_id(payload.get("cardId")),
            from_user=user_from_card(payload["from"]),
            user=user_from_card(payload["user"]),
        )


CONTACT_UPDATE_KINDS: dict[str, Any] = {
    "friend_request_received": FriendRequestReceivedEvent.from_update,
    "friend_request_accepted": FriendRequestAcceptedEvent.from_update,
    "friend_request_rejected": FriendRequestRejectedEvent.from_update,
    "friend_request_recalled": FriendRequestRecalledEvent.from_update,
    "friend_added": FriendAddedEvent.from_update,
    "friend_removed": FriendRemovedEvent.from_update,
    "friend_alias_changed": FriendAliasChangedEvent.from_update,
    "blacklist_changed": BlacklistChangedEvent.from_update,
    "card_shared": CardSharedEvent.from_update,
}
CONTACT_UPDATE_TYPES: tuple[type, ...] = (
    FriendRequestReceivedEvent,
    FriendRequestAcceptedEvent,
    FriendRequestRejectedEvent,
    FriendRequestRecalledEvent,
    FriendAddedEvent,
    FriendRemovedEvent,
    FriendAliasChangedEvent,
    BlacklistChangedEvent,
    CardSharedEvent,
)
