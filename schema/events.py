"""Items of the per-user `events` subscription (also pushed as native PUSH frames) and of
`sync/get_updates`. Each domain lists its update kinds here explicitly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Union

import strawberry
from strawberry.scalars import JSON

from app.contacts.profiles import PROFILE_CHANGED
from schema.accounts import UserProfileChangedEvent
from schema.common import to_id
from schema.contacts import CONTACT_UPDATE_KINDS, CONTACT_UPDATE_TYPES
from schema.event_interfaces import UserUpdateEvent
from schema.groups import GROUP_UPDATE_KINDS, GROUP_UPDATE_TYPES
from schema.messages import CHANNEL_EVENT_TYPES, channel_event_object
from schema.presence import PresenceEvent, TypingEvent
from schema.privacy import PrivacyChangedEvent
from schema.stickers import STICKER_UPDATE_KINDS, STICKER_UPDATE_TYPES


@strawberry.type(description="One or more device sessions of the user were revoked or kicked.")
class SessionRevokedEvent(UserUpdateEvent):
    session_ids: list[strawberry.ID]
    device_ids: list[str]
    reason: str

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> SessionRevokedEvent:
        return cls(
            seq=seq,
            session_ids=[to_id(i) for i in payload["sessionIds"]],
            device_ids=list(payload.get("deviceIds", [])),
            reason=payload.get("reason", "revoked"),
        )


@strawberry.type(description="The user was added to a channel (a new direct chat or group): sync it.")
class ChannelAddedEvent(UserUpdateEvent):
    channel_id: strawberry.ID
    kind: str

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> ChannelAddedEvent:
        return cls(seq=seq, channel_id=to_id(payload["channelId"]), kind=payload.get("kind", "direct"))


@strawberry.type(description="The caller read channels on one of its devices: update unread badges.")
class ReadStateEvent(UserUpdateEvent):
    channels: list[ReadMark]

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> ReadStateEvent:
        return cls(seq=seq, channels=[ReadMark(channel_id=to_id(c["channelId"]), read_pts=c["readPts"])
                                      for c in payload.get("channels", [])])


@strawberry.type
class ReadMark:
    channel_id: strawberry.ID
    read_pts: int


@strawberry.type(description="The other user of a direct chat read up to readPts.")
class PeerReadEvent(UserUpdateEvent):
    channel_id: strawberry.ID
    user_id: strawberry.ID
    read_pts: int

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> PeerReadEvent:
        return cls(seq=seq, channel_id=to_id(payload["channelId"]), user_id=to_id(payload["userId"]),
                   read_pts=payload["readPts"])


@strawberry.type(description="The caller changed a conversation's pin/hide/mute on one of its devices.")
class ConversationSettingsEvent(UserUpdateEvent):
    channel_id: strawberry.ID
    pinned: bool
    hidden: bool
    muted: bool

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> ConversationSettingsEvent:
        return cls(seq=seq, channel_id=to_id(payload["channelId"]), pinned=bool(payload.get("pinned")),
                   hidden=bool(payload.get("hidden")), muted=bool(payload.get("muted")))


@strawberry.type(description="Members read messages of yours in a group (not stored: ask messageStatusReadStats).")
class GroupReadEvent:
    channel_id: strawberry.ID
    up_to_pts: int


@strawberry.type(description="A user update this client version has no dedicated type for; keeps seq gapless.")
class OtherUserUpdate(UserUpdateEvent):
    kind: str
    payload: JSON


@strawberry.type(description="The server could not deliver everything live: re-sync from the last pts/seq.")
class ResyncRequiredEvent:
    reason: str


# kind -> converter from (seq, payload) to the GraphQL object; the types in order.
UserUpdateConverter = Callable[[int, dict[str, Any]], Any]
USER_UPDATE_KINDS: dict[str, UserUpdateConverter] = {
    "session_revoked": SessionRevokedEvent.from_update,
    "channel_added": ChannelAddedEvent.from_update,
    "read": ReadStateEvent.from_update,
    "peer_read": PeerReadEvent.from_update,
    "conversation_settings": ConversationSettingsEvent.from_update,
    **CONTACT_UPDATE_KINDS,
    **GROUP_UPDATE_KINDS,
    "privacy_changed": PrivacyChangedEvent.from_update,
    **STICKER_UPDATE_KINDS,
    PROFILE_CHANGED: UserProfileChangedEvent.from_update,
}
USER_UPDATE_TYPES: tuple[type, ...] = (
    SessionRevokedEvent,
    ChannelAddedEvent,
    ReadStateEvent,
    PeerReadEvent,
    ConversationSettingsEvent,
    OtherUserUpdate,
    *CONTACT_UPDATE_TYPES,
    *GROUP_UPDATE_TYPES,
    PrivacyChangedEvent,
    *STICKER_UPDATE_TYPES,
    UserProfileChangedEvent,
)

UserUpdate = Annotated[Union[USER_UPDATE_TYPES], strawberry.union("UserUpdate")]  # type: ignore[valid-type]  # noqa: UP007
ChannelUpdate = Annotated[Union[CHANNEL_EVENT_TYPES], strawberry.union("ChannelUpdate")]  # type: ignore[valid-type]  # noqa: UP007
EVENT_TYPES: tuple[type, ...] = (
    *USER_UPDATE_TYPES, *CHANNEL_EVENT_TYPES, GroupReadEvent, TypingEvent, PresenceEvent, ResyncRequiredEvent
)
Event = Annotated[Union[EVENT_TYPES], strawberry.union("Event")]  # type: ignore[valid-type]  # noqa: UP007


def user_update_object(kind: str, seq: int, payload: dict[str, Any]) -> Any:
    """Every stored user update becomes an object: a client never sees a seq hole."""
    converter = USER_UPDATE_KINDS.get(kind)
    return converter(seq, payload) if converter is not None else OtherUserUpdate(seq=seq, kind=kind, payload=payload)  # type: ignore[arg-type]


def event_object(message: dict[str, Any]) -> Any | None:
    """A live bus message as the GraphQL object the stream yields (None: not for clients)."""
    kind = message.get("type")
    if kind == "user_update":
        return user_update_object(message["kind"], message["seq"], message.get("payload") or {})
    if kind == "channel_event":
        return channel_event_object(message)
    if kind == "group_read":
        return GroupReadEvent(channel_id=to_id(message["channelId"]), up_to_pts=message["upToPts"])
    if kind == "typing":
        return TypingEvent.from_message(message)
    if kind == "presence":
        return PresenceEvent.from_message(message)
    if kind == "resync_required":
        return ResyncRequiredEvent(reason=message.get("reason", "overflow"))
    return None


@strawberry.input
class EventsInput:
    hold_until_ready: bool = strawberry.field(
        default=False,
        description="hold live events (bounded) until this device calls syncSessionReady after its sync",
    )
