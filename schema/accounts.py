"""Account, profile, auth and device types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.accounts.tables import LoginLog
from app.accounts.tables import User as UserRecord
from app.devices.tables import DeviceSession
from schema.common import from_ms_required, to_id
from schema.event_interfaces import UserUpdateEvent


@strawberry.type(description="What other users may see of a user.")
class User:
    id: strawberry.ID
    username: str
    display_name: str
    avatar_file_id: str | None = strawberry.field(description="the avatar's file id (download: file/get_url)")
    bio: str | None

    @classmethod
    def from_record(cls, rec: UserRecord) -> User:
        assert rec.id is not None
        return cls(
            id=to_id(rec.id),
            username=rec.username,
            display_name=rec.display_name,
            avatar_file_id=rec.avatar_file_id,
            bio=rec.bio,
        )


@strawberry.type(
    description="A user you see changed their name, photo or bio (also sent to the user's own devices): "
    "update every place that shows them. Sent to friends and members of groups shared with the user."
)
class UserProfileChangedEvent(UserUpdateEvent):
    user_id: strawberry.ID
    display_name: str
    avatar_file_id: str | None = strawberry.field(description="the new photo's file id (null: no photo)")
    # Not `user`: other user updates have a non-null `user`, and one selection may not ask
    # for both (GraphQL's field merging rule).
    profile: User | None = strawberry.field(
        description="the full public card (username, bio); null when you see only the name and photo "
        "(a group that hides profiles)"
    )

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> UserProfileChangedEvent:
        card = payload.get("profile")
        return cls(
            seq=seq,
            user_id=to_id(int(payload["userId"])),
            display_name=str(payload.get("displayName", "")),
            avatar_file_id=payload.get("avatarFileId"),
            profile=None
            if card is None
            else User(
                id=to_id(int(card["id"])),
                username=str(card.get("username", "")),
                display_name=str(card.get("displayName", "")),
                avatar_file_id=card.get("avatarFileId"),
                bio=card.get("bio"),
            ),
        )


@strawberry.type(description="The caller's own account.")
class Profile:
    id: strawberry.ID
    username: str
    display_name: str
    avatar_file_id: str | None = strawberry.field(description="the avatar's file id (download: file/get_url)")
    bio: str | None
    email: str | None
    phone: str | None
    is_admin: bool
    created_at: datetime

    @classmethod
    def from_record(cls, rec: UserRecord) -> Profile:
        assert rec.id is not None
        return cls(
            id=to_id(rec.id),
            username=rec.username,
            display_name=rec.display_name,
            avatar_file_id=rec.avatar_file_id,
            bio=rec.bio,
            email=rec.email,
            phone=rec.phone,
            is_admin=rec.is_admin,
            created_at=from_ms_required(rec.created_at),
        )


@strawberry.type(description="A logged-in device of the caller.")
class Device:
    device_id: str
    device_name: str
    platform: str
    ip: str | None
    created_at: datetime
    last_active_at: datetime
    current: bool

    @classmethod
    def from_record(cls, rec: DeviceSession, *, current_session_id: int | None) -> Device:
        return cls(
            device_id=rec.device_id,
            device_name=rec.device_name,
            platform=rec.platform,
            ip=rec.ip,
            created_at=from_ms_required(rec.created_at),
            last_active_at=from_ms_required(rec.last_active_at),
            current=rec.id == current_session_id,
        )


@strawberry.type
class LoginAttempt:
    at: datetime
    device_id: str
    platform: str
    ip: str | None
    user_agent: str | None
    success: bool
    reason: str | None

    @classmethod
    def from_record(cls, rec: LoginLog) -> LoginAttempt:
        return cls(
            at=from_ms_required(rec.at),
            device_id=rec.device_id,
            platform=rec.platform,
            ip=rec.ip,
            user_agent=rec.user_agent,
            success=rec.success,
            reason=rec.reason,
        )


# --- inputs and payloads, named <Field>Input / <Field>Payload -------------------------


@strawberry.input
class AccountUserRegisterInput:
    username: str
    password: str
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None


@strawberry.type
class AccountUserRegisterPayload:
    user: User


@strawberry.input
class AccountAuthLoginInput:
    username: str
    password: str
    device_id: str
    device_name: str = ""
    platform: str = "other"


@strawberry.type
class AccountAuthLoginPayload:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="access token lifetime in seconds")
    user: User
    device: Device


@strawberry.input
class AccountAuthRefreshInput:
    refresh_token: str


@strawberry.type
class AccountAuthRefreshPayload:
    access_token: str
    refresh_token: str
    expires_in: int


@strawberry.input
class AccountAuthLoginHistoryInput:
    limit: int = 50


@strawberry.type
class AccountAuthLoginHistoryPayload:
    attempts: list[LoginAttempt]


@strawberry.input
class AccountUserDetailInput:
    user_id: strawberry.ID


@strawberry.type
class AccountUserDetailPayload:
    user: User


@strawberry.type
class AccountProfileGetPayload:
    profile: Profile


@strawberry.input
class AccountProfileUpdateInput:
    display_name: str | None = None
    avatar_file_id: str | None = strawberry.field(
        default=None, description="an image uploaded with purpose USER_AVATAR; an empty string removes the avatar"
    )
    bio: str | None = None
    email: str | None = None
    phone: str | None = None


@strawberry.type
class AccountProfileUpdatePayload:
    profile: Profile


@strawberry.type
class DeviceListPayload:
    devices: list[Device]


@strawberry.input
class DeviceRevokeInput:
    device_id: str


@strawberry.type
class DeviceRevokePayload:
    revoked: int


@strawberry.type
class DeviceRevokeAllPayload:
    revoked: int


@strawberry.input
class DeviceUpdateNameInput:
    device_id: str
    device_name: str


@strawberry.type
class DeviceUpdateNamePayload:
    device: Device


@strawberry.input
class DeviceKickInput:
    device_id: str


@strawberry.type
class DeviceKickPayload:
    kicked: int


@strawberry.type
class DeviceKickOthersPayload:
    kicked: int
