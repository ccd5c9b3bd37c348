"""Messages and channel events as plain dicts: the form the bus carries and both doors
convert into their output types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.messaging.content import preview
from app.messaging.tables import ChannelEvent, Message


@dataclass(slots=True)
class MessageRecord:
    """A message just written by the channel log: the columns of `Message`, without the
    cost of an ORM instance (the send path builds one per message)."""

    id: int
    channel_id: int
    pts: int
    sender_id: int
    client_msg_id: str
    type: str
    content: dict[str, Any]
    meta: dict[str, Any] | None
    reply_to_id: int | None
    forwarded_from_id: int | None
    mentions: list[int] | None
    mention_all: bool
    created_at: int
    revoked_at: int | None = None
    revoked_by: int | None = None


@dataclass(slots=True)
class EventRecord:
    """A channel event just written by the channel log (the columns of `ChannelEvent`)."""

    channel_id: int
    pts: int
    kind: str
    actor_id: int | None
    message_id: int | None
    payload: dict[str, Any] | None
    created_at: int


AnyMessage = Message | MessageRecord
AnyEvent = ChannelEvent | EventRecord


def reply_dict(message_id: int, replied: AnyMessage | None) -> dict[str, Any]:
    """The quoted preview a reply carries; a later-revoked original shows as revoked."""
    if replied is None:
        return {"id": message_id, "senderId": None, "type": None, "preview": None, "revoked": True}
    revoked = replied.revoked_at is not None
    return {
        "id": message_id,
        "senderId": replied.sender_id,
        "type": replied.type,
        "preview": None if revoked else preview(replied.type, replied.content),
        "revoked": revoked,
    }


def message_dict(message: AnyMessage, replies: Mapping[int, AnyMessage] | None = None) -> dict[str, Any]:
    revoked = message.revoked_at is not None
    reply = None
    if message.reply_to_id is not None:
        reply = reply_dict(message.reply_to_id, (replies or {}).get(message.reply_to_id))
    return {
        "id": message.id,
        "channelId": message.channel_id,
        "pts": message.pts,
        "senderId": message.sender_id,
        "clientMsgId": message.client_msg_id,
        "type": message.type,
        # Revoked content is hidden from everyone, everywhere.
        "content": None if revoked else message.content,
        "meta": None if revoked else message.meta,
        "replyToId": message.reply_to_id,
        "replyTo": reply,
        "forwardedFromId": message.forwarded_from_id,
        "mentions": message.mentions or [],
        "mentionAll": message.mention_all,
        "createdAt": message.created_at,
        "revoked": revoked,
        "revokedAt": message.revoked_at,
    }


def event_dict(
    event: AnyEvent, message: AnyMessage | None, replies: Mapping[int, AnyMessage] | None = None
) -> dict[str, Any]:
    return {
        "type": "channel_event",
        "channelId": event.channel_id,
        "pts": event.pts,
        "kind": event.kind,
        "actorId": event.actor_id,
        "at": event.created_at,
        "message": message_dict(message, replies) if message is not None else None,
        "payload": event.payload or {},
    }
