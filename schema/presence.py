"""presence/* types, and the two ephemeral live events (typing, presence) that carry no
pts or seq: they are never stored and never in sync."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from app.presence.service import Presence, PresenceStats
from app.presence.service import TypingAction as DomainTypingAction
from schema.common import from_ms, from_ms_required, to_id


@strawberry.enum(description="HIDDEN: the user's privacy settings do not let you see it.")
class PresenceStatus(Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    HIDDEN = "hidden"


@strawberry.enum
class TypingAction(Enum):
    TYPING = "typing"
    RECORDING_AUDIO = "recording_audio"
    UPLOADING_MEDIA = "uploading_media"
    CANCEL = "cancel"

    def to_domain(self) -> DomainTypingAction:
        return DomainTypingAction(self.value)


@strawberry.type(description="Whether a user is online (on any of their devices).")
class UserPresence:
    user_id: strawberry.ID
    status: PresenceStatus
    last_seen_at: datetime | None = strawberry.field(
        description="OFFLINE: when the user's last device went offline; ONLINE: now; null if hidden or never seen"
    )
    device_count: int | None = strawberry.field(description="devices online; only in your own presence")

    @classmethod
    def from_record(cls, rec: Presence) -> UserPresence:
        return cls(
            user_id=to_id(rec.user_id),
            status=PresenceStatus(rec.status.value),
            last_seen_at=from_ms(rec.last_seen_at),
            device_count=rec.device_count,
        )


# --- live events -------------------------------------------------------------------------


@strawberry.type(description="A member of a channel is typing (ephemeral: no pts, not in sync).")
class TypingEvent:
    channel_id: strawberry.ID
    user_id: strawberry.ID
    action: TypingAction
    expires_at: datetime = strawberry.field(description="stop showing the indicator then, unless renewed")

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> TypingEvent:
        return cls(
            channel_id=to_id(m["channelId"]),
            user_id=to_id(m["userId"]),
            action=TypingAction(m["action"]),
            expires_at=from_ms_required(m["expiresAt"]),
        )


@strawberry.type(description="A user you subscribed to came online or went offline (ephemeral: no seq).")
class PresenceEvent:
    user_id: strawberry.ID
    status: PresenceStatus
    last_seen_at: datetime | None

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> PresenceEvent:
        return cls(
            user_id=to_id(m["userId"]),
            status=PresenceStatus(m["status"]),
            last_seen_at=from_ms(m.get("lastSeenAt")),
        )


# --- operations --------------------------------------------------------------------------


@strawberry.input
class PresenceTypingInput:
    channel_id: strawberry.ID
    action: TypingAction = TypingAction.TYPING


@strawberry.type
class PresenceTypingPayload:
    expires_at: datetime = strawberry.field(description="when the others stop showing it unless you signal again")


@strawberry.input
class PresenceQueryInput:
    user_id: strawberry.ID


@strawberry.type
class PresenceQueryPayload:
    presence: UserPresence


@strawberry.input
class PresenceBatchQueryInput:
    user_ids: list[strawberry.ID] = strawberry.field(description="1-200 user ids")


@strawberry.type
class PresenceBatchQueryPayload:
    presences: list[UserPresence] = strawberry.field(description="in the order asked")


@strawberry.input
class PresenceSubscribeInput:
    user_ids: list[strawberry.ID] = strawberry.field(description="1-200 user ids per call")


@strawberry.type
class PresenceSubscribePayload:
    presences: list[UserPresence] = strawberry.field(description="their presence now; PresenceEvents follow")
    subscriptions: int = strawberry.field(description="how many users you now watch")


@strawberry.input
class PresenceUnsubscribeInput:
    user_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="null: stop watching everyone")


@strawberry.type
class PresenceUnsubscribePayload:
    subscriptions: int


@strawberry.type
class PresenceStatsPayload:
    my_devices_online: int
    subscriptions: int
    subscription_limit: int
    online_users: int | None = strawberry.field(description="cluster-wide; administrators only")
    online_devices: int | None = strawberry.field(description="cluster-wide; administrators only")
    local_connections: int | None = strawberry.field(description="on the answering process; administrators only")
    backend: str | None = strawberry.field(description="redis | memory; administrators only")

    @classmethod
    def from_record(cls, rec: PresenceStats) -> PresenceStatsPayload:
        return cls(
            my_devices_online=rec.my_devices_online,
            subscriptions=rec.subscriptions,
            subscription_limit=rec.subscription_limit,
            online_users=rec.online_users,
            online_devices=rec.online_devices,
            local_connections=rec.local_connections,
            backend=rec.backend,
        )
