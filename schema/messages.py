"""Message types: typed content in (a @oneOf input), a content union out, and the
channel events that carry them in sync and in the live stream."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.messaging.content import MessageType as DomainMessageType
from schema.common import Long, from_ms, from_ms_required, parse_id, to_id
from schema.event_interfaces import ChannelEvent
from schema.groups import GROUP_EVENT_KINDS, GROUP_EVENT_TYPES
from schema.pins import PinEvent
from schema.reactions import ReactionEvent


@strawberry.enum
class MessageType(Enum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"
    LOCATION = "location"
    CARD = "card"
    STICKER = "sticker"
    SYSTEM = "system"


# --- content out -------------------------------------------------------------------------


@strawberry.type
class TextContent:
    text: str


@strawberry.type(description="An image; width, height, thumbnail, blurhash, size and type are the server's findings.")
class ImageContent:
    file_id: str
    width: int | None = None
    height: int | None = None
    thumbnail_file_id: str | None = None
    caption: str | None = None
    blurhash: str | None = None
    size: Long | None = None
    mime_type: str | None = None


@strawberry.type
class AudioContent:
    file_id: str
    duration_ms: int
    size: Long | None = None
    mime_type: str | None = None


@strawberry.type
class VideoContent:
    file_id: str
    duration_ms: int
    width: int | None = None
    height: int | None = None
    thumbnail_file_id: str | None = None
    size: Long | None = None
    mime_type: str | None = None


@strawberry.type
class FileContent:
    file_id: str
    name: str
    size: Long
    mime_type: str | None = None


@strawberry.type
class LocationContent:
    latitude: float
    longitude: float
    title: str | None = None
    address: str | None = None


@strawberry.type
class CardContent:
    user_id: strawberry.ID


@strawberry.type
class StickerContent:
    package_id: str
    sticker_id: str
    file_id: str = strawberry.field(default="", description="the sticker's image")
    emoji: str | None = None


@strawberry.type
class SystemContent:
    text: str
    kind: str | None = None


MessageContent = Annotated[
    TextContent
    | ImageContent
    | AudioContent
    | VideoContent
    | FileContent
    | LocationContent
    | CardContent
    | StickerContent
    | SystemContent,
    strawberry.union("MessageContent"),
]


def content_object(kind: str, c: dict[str, Any]) -> Any:
    if kind == "text":
        return TextContent(text=c["text"])
    if kind == "image":
        return ImageContent(
            file_id=c["fileId"],
            width=c.get("width"),
            height=c.get("height"),
            thumbnail_file_id=c.get("thumbnailFileId"),
            caption=c.get("caption"),
            blurhash=c.get("blurhash"),
            size=c.get("size"),
            mime_type=c.get("mimeType"),
        )
    if kind == "audio":
        return AudioContent(
            file_id=c["fileId"], duration_ms=c["durationMs"], size=c.get("size"), mime_type=c.get("mimeType")
        )
    if kind == "video":
        return VideoContent(
            file_id=c["fileId"],
            duration_ms=c["durationMs"],
            width=c.get("width"),
            height=c.get("height"),
            thumbnail_file_id=c.get("thumbnailFileId"),
            size=c.get("size"),
            mime_type=c.get("mimeType"),
        )
    if kind == "file":
        return FileContent(file_id=c["fileId"], name=c["name"], size=c["size"], mime_type=c.get("mimeType"))
    if kind == "location":
        return LocationContent(
            latitude=c["latitude"], longitude=c["longitude"], title=c.get("title"), address=c.get("address")
        )
    if kind == "card":
        return CardContent(user_id=to_id(c["userId"]))
    if kind == "sticker":
        return StickerContent(
            package_id=c["packageId"], sticker_id=c["stickerId"], file_id=c.get("fileId", ""), emoji=c.get("emoji")
        )
    return SystemContent(text=str(c.get("text", "")), kind=c.get("kind"))


# --- content in --------------------------------------------------------------------------


@strawberry.input
class TextContentInput:
    text: str


@strawberry.input
class ImageContentInput:
    file_id: str
    width: int | None = None
    height: int | None = None
    thumbnail_file_id: str | None = None
    caption: str | None = None


@strawberry.input
class AudioContentInput:
    file_id: str
    duration_ms: int


@strawberry.input
class VideoContentInput:
    file_id: str
    duration_ms: int
    width: int | None = None
    height: int | None = None
    thumbnail_file_id: str | None = None


@strawberry.input
class FileContentInput:
    file_id: str
    name: str
    size: Long
    mime_type: str | None = None


@strawberry.input
class LocationContentInput:
    latitude: float
    longitude: float
    title: str | None = None
    address: str | None = None


@strawberry.input
class CardContentInput:
    user_id: strawberry.ID


@strawberry.input
class StickerContentInput:
    package_id: str
    sticker_id: str


@strawberry.input(one_of=True, description="Exactly one field: the message's type and its content.")
class MessageContentInput:
    text: TextContentInput | None = strawberry.UNSET
    image: ImageContentInput | None = strawberry.UNSET
    audio: AudioContentInput | None = strawberry.UNSET
    video: VideoContentInput | None = strawberry.UNSET
    file: FileContentInput | None = strawberry.UNSET
    location: LocationContentInput | None = strawberry.UNSET
    card: CardContentInput | None = strawberry.UNSET
    sticker: StickerContentInput | None = strawberry.UNSET

    def to_domain(self) -> tuple[DomainMessageType, dict[str, Any]]:
        for kind in DomainMessageType:
            value = getattr(self, kind.value, None)
            if value is None or value is strawberry.UNSET:
                continue
            if kind is DomainMessageType.CARD:
                return kind, {"userId": parse_id(value.user_id, "userId")}
            # camelCase keys, as stored and as clients see them
            data = {_camel(k): v for k, v in vars(value).items() if v is not None and v is not strawberry.UNSET}
            return kind, data
        from app.errors import bad_input

        raise bad_input("content needs exactly one type", field="content")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


# --- messages and events -----------------------------------------------------------------


@strawberry.type(description="What a reply quotes of the message it answers.")
class MessagePreview:
    id: strawberry.ID
    sender_id: strawberry.ID | None
    type: MessageType | None
    preview: str | None = strawberry.field(description="null once the original is recalled")
    revoked: bool

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MessagePreview:
        return cls(
            id=to_id(d["id"]),
            sender_id=to_id(d["senderId"]) if d.get("senderId") else None,
            type=MessageType(d["type"]) if d.get("type") else None,
            preview=d.get("preview"),
            revoked=bool(d.get("revoked")),
        )


@strawberry.type
class Message:
    id: strawberry.ID
    channel_id: strawberry.ID
    pts: int
    sender_id: strawberry.ID
    client_msg_id: str
    type: MessageType
    content: MessageContent | None = strawberry.field(description="null once revoked")
    meta: JSON | None
    reply_to_id: strawberry.ID | None
    reply_to: MessagePreview | None
    forwarded_from_id: strawberry.ID | None
    mentions: list[strawberry.ID]
    mention_all: bool
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        content = d.get("content")
        return cls(
            id=to_id(d["id"]),
            channel_id=to_id(d["channelId"]),
            pts=d["pts"],
            sender_id=to_id(d["senderId"]),
            client_msg_id=d["clientMsgId"],
            type=MessageType(d["type"]),
            content=content_object(d["type"], content) if content is not None else None,
            meta=d.get("meta"),
            reply_to_id=to_id(d["replyToId"]) if d.get("replyToId") else None,
            reply_to=MessagePreview.from_dict(d["replyTo"]) if d.get("replyTo") else None,
            forwarded_from_id=to_id(d["forwardedFromId"]) if d.get("forwardedFromId") else None,
            mentions=[to_id(m) for m in d.get("mentions") or []],
            mention_all=bool(d.get("mentionAll")),
            created_at=from_ms_required(d["createdAt"]),
            revoked=bool(d.get("revoked")),
            revoked_at=from_ms(d.get("revokedAt")),
        )


@strawberry.type(description="A message was stored in a channel (pts is its place in the channel).")
class MessageEvent(ChannelEvent):
    message: Message


@strawberry.type(description="A message was recalled: drop its content; a system line follows.")
class MessageRevokedEvent(ChannelEvent):
    message_id: strawberry.ID
    revoked_by: strawberry.ID
    revoked_at: datetime


@strawberry.type(description="A channel event this client version has no dedicated type for; keeps pts gapless.")
class OtherChannelEvent(ChannelEvent):
    kind: str
    actor_id: strawberry.ID | None
    payload: JSON


CHANNEL_EVENT_KINDS: dict[str, Any] = {
    **GROUP_EVENT_KINDS,
    "revoke": lambda d: MessageRevokedEvent(
        channel_id=to_id(d["channelId"]),
        pts=d["pts"],
        message_id=to_id(d["payload"]["messageId"]),
        revoked_by=to_id(d["payload"]["revokedBy"]),
        revoked_at=from_ms_required(d["payload"]["revokedAt"]),
    ),
    "message": lambda d: MessageEvent(
        channel_id=to_id(d["channelId"]), pts=d["pts"], message=Message.from_dict(d["message"])
    ),
    "reaction": ReactionEvent.from_event,
    "pin": PinEvent.from_event,
}
CHANNEL_EVENT_TYPES: tuple[type, ...] = (
    MessageEvent,
    MessageRevokedEvent,
    ReactionEvent,
    PinEvent,
    *GROUP_EVENT_TYPES,
    OtherChannelEvent,
)


def channel_event_object(d: dict[str, Any]) -> Any:
    """Every stored channel event becomes an object: a client never sees a pts hole."""
    converter = CHANNEL_EVENT_KINDS.get(d.get("kind", ""))
    if converter is not None:
        return converter(d)
    return OtherChannelEvent(
        channel_id=to_id(d["channelId"]),
        pts=d["pts"],
        kind=d.get("kind", ""),
        actor_id=to_id(d["actorId"]) if d.get("actorId") else None,
        payload=d.get("payload") or {},  # type: ignore[arg-type]
    )


# --- operations --------------------------------------------------------------------------


@strawberry.input
class MessageSendInput:
    channel_id: strawberry.ID
    client_msg_id: str = strawberry.field(description="client-chosen id; a retry with the same id is not stored twice")
    content: MessageContentInput
    meta: JSON | None = None
    reply_to_id: strawberry.ID | None = None
    mentions: list[strawberry.ID] | None = None
    mention_all: bool = False


@strawberry.type
class MessageSendPayload:
    message: Message


@strawberry.enum
class HistoryOrder(Enum):
    NEWEST_FIRST = "newest_first"
    OLDEST_FIRST = "oldest_first"


@strawberry.input
class MessageHistoryGetInput:
    channel_id: strawberry.ID
    before_pts: int | None = None
    after_pts: int | None = None
    limit: int = 50
    order: HistoryOrder = HistoryOrder.NEWEST_FIRST


@strawberry.type
class MessageHistoryGetPayload:
    messages: list[Message]
    has_more: bool


@strawberry.input
class MessageHistoryAroundInput:
    message_id: strawberry.ID
    limit: int = 50


@strawberry.type
class MessageHistoryAroundPayload:
    messages: list[Message] = strawberry.field(description="oldest first; includes the message asked for")
    has_more_before: bool
    has_more_after: bool


@strawberry.input
class MessageRevokeInput:
    message_id: strawberry.ID


@strawberry.type
class MessageRevokePayload:
    message: Message = strawberry.field(description="the recalled message: revoked, no content")
