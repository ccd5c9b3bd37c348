"""admin/user/* and admin/friendship/* types."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app.accounts.tables import LoginLog
from app.accounts.tables import User as UserRecord
from app.admin.tables import AdminAudit as AuditRecord
from app.contacts.tables import Friendship as FriendshipRecord
from app.devices.tables import DeviceSession
from app.messaging.tables import Message as MessageRecord
from schema.accounts import User
from schema.common import Long, from_ms_required, to_id
from schema.contacts import Friend, FriendSource, friend_source


@strawberry.type(description="A user as administrators see them.")
class AdminUser:
    id: strawberry.ID
    username: str
    display_name: str
    email: str | None
    phone: str | None
    is_admin: bool
    disabled: bool
    created_at: datetime
    deleted_at: datetime | None = strawberry.field(description="set when an admin deleted the account")

    @classmethod
    def from_record(cls, rec: UserRecord) -> AdminUser:
        assert rec.id is not None
        return cls(
            id=to_id(rec.id),
            username=rec.username,
            display_name=rec.display_name,
            email=rec.email,
            phone=rec.phone,
            is_admin=rec.is_admin,
            disabled=rec.disabled,
            created_at=from_ms_required(rec.created_at),
            deleted_at=from_ms_required(rec.deleted_at) if rec.deleted_at is not None else None,
        )


@strawberry.type(description="A friendship between two users.")
class AdminFriendship:
    user: User
    friend: User
    source: FriendSource = strawberry.field(description="how `user` came to it")
    since: datetime

    @classmethod
    def from_records(cls, f: FriendshipRecord, user: UserRecord, friend: UserRecord) -> AdminFriendship:
        return cls(
            user=User.from_record(user),
            friend=User.from_record(friend),
            source=friend_source(f.source),
            since=from_ms_required(f.created_at),
        )


@strawberry.input
class AdminUserCreateInput:
    username: str
    password: str
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    is_admin: bool = False


@strawberry.type
class AdminUserCreatePayload:
    user: AdminUser


@strawberry.input
class AdminUserListInput:
    query: str | None = strawberry.field(
        default=None, description="username/display-name prefix, or an exact email or phone"
    )
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class AdminUserListPayload:
    users: list[AdminUser]
    next_cursor: str | None


@strawberry.input
class AdminUserFriendsInput:
    user_id: strawberry.ID
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class AdminUserFriendsPayload:
    friends: list[Friend]
    next_cursor: str | None


@strawberry.input
class AdminFriendshipCreateInput:
    user_id: strawberry.ID
    friend_id: strawberry.ID


@strawberry.type
class AdminFriendshipCreatePayload:
    friend: Friend = strawberry.field(description="the friendship as `userId` sees it")
    channel_id: strawberry.ID | None


@strawberry.input
class AdminFriendshipListInput:
    user_id: strawberry.ID | None = strawberry.field(default=None, description="only this user's friendships")
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class AdminFriendshipListPayload:
    friendships: list[AdminFriendship]
    next_cursor: str | None


@strawberry.input
class AdminFriendshipRemoveInput:
    user_id: strawberry.ID
    friend_id: strawberry.ID


@strawberry.type(description="One privileged call in the append-only audit log.")
class AdminAuditEntry:
    id: strawberry.ID
    at: datetime
    actor_kind: str = strawberry.field(description="user | service_key | anonymous")
    actor_user_id: strawberry.ID | None
    route: str
    transport: str
    args: JSON = strawberry.field(description="the call's input fields, secrets masked")
    target: str | None = strawberry.field(description='what it acted on, e.g. "user:42"')
    result: str = strawberry.field(description="OK or the error code")
    ip: str | None

    @classmethod
    def from_record(cls, rec: AuditRecord) -> AdminAuditEntry:
        assert rec.id is not None
        return cls(
            id=to_id(rec.id),
            at=from_ms_required(rec.at),
            actor_kind=rec.actor_kind,
            actor_user_id=to_id(rec.actor_user_id) if rec.actor_user_id is not None else None,
            route=rec.route,
            transport=rec.transport,
            args=cast(JSON, rec.args),
            target=rec.target,
            result=rec.result,
            ip=rec.ip,
        )


@strawberry.input
class AdminAuditListInput:
    actor_user_id: strawberry.ID | None = None
    route: str | None = strawberry.field(default=None, description="e.g. admin/user/disable")
    target: str | None = strawberry.field(default=None, description='e.g. "user:42"')
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class AdminAuditListPayload:
    entries: list[AdminAuditEntry] = strawberry.field(description="newest first")
    next_cursor: str | None


@strawberry.type(description="A user as administrators see them, with their state.")
class AdminUserPayload:
    user: AdminUser


@strawberry.input
class AdminUserGetInput:
    user_id: strawberry.ID


@strawberry.input
class AdminUserUpdateInput:
    user_id: strawberry.ID
    display_name: str | None = None
    email: str | None = strawberry.field(default=None, description='"" removes it')
    phone: str | None = strawberry.field(default=None, description='"" removes it')
    bio: str | None = strawberry.field(default=None, description='"" removes it')


@strawberry.input
class AdminUserDisableInput:
    user_id: strawberry.ID


@strawberry.input
class AdminUserEnableInput:
    user_id: strawberry.ID


@strawberry.input
class AdminUserDeleteInput:
    user_id: strawberry.ID


@strawberry.input
class AdminUserLogoutAllInput:
    user_id: strawberry.ID


@strawberry.input
class AdminUserResetPasswordInput:
    user_id: strawberry.ID


@strawberry.input
class AdminUserSetRoleInput:
    user_id: strawberry.ID
    is_admin: bool


@strawberry.type
class AdminCountPayload:
    count: int = strawberry.field(description="how many things the call changed (e.g. sessions revoked)")


@strawberry.type
class AdminUserResetPasswordPayload:
    token: str = strawberry.field(description="one-time token for accountPasswordReset; shown only here")
    expires_at: datetime


@strawberry.type(description="A device session of a user.")
class AdminDevice:
    session_id: strawberry.ID
    device_id: str
    device_name: str
    platform: str
    ip: str | None
    created_at: datetime
    last_active_at: datetime

    @classmethod
    def from_record(cls, rec: DeviceSession) -> AdminDevice:
        return cls(
            session_id=to_id(rec.id or 0),
            device_id=rec.device_id,
            device_name=rec.device_name,
            platform=rec.platform,
            ip=rec.ip,
            created_at=from_ms_required(rec.created_at),
            last_active_at=from_ms_required(rec.last_active_at),
        )


@strawberry.input
class AdminDeviceListInput:
    user_id: strawberry.ID


@strawberry.type
class AdminDeviceListPayload:
    devices: list[AdminDevice]


@strawberry.input
class AdminDeviceRevokeInput:
    user_id: strawberry.ID
    device_id: str


@strawberry.type(description="One login attempt.")
class AdminLoginLogEntry:
    id: strawberry.ID
    user_id: strawberry.ID | None
    username: str
    device_id: str
    platform: str
    ip: str | None
    user_agent: str | None
    success: bool
    reason: str | None
    at: datetime

    @classmethod
    def from_record(cls, rec: LoginLog) -> AdminLoginLogEntry:
        return cls(
            id=to_id(rec.id or 0),
            user_id=to_id(rec.user_id) if rec.user_id is not None else None,
            username=rec.username,
            device_id=rec.device_id,
            platform=rec.platform,
            ip=rec.ip,
            user_agent=rec.user_agent,
            success=rec.success,
            reason=rec.reason,
            at=from_ms_required(rec.at),
        )


@strawberry.input
class AdminLoginLogListInput:
    user_id: strawberry.ID | None = None
    ip: str | None = None
    success: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class AdminLoginLogListPayload:
    entries: list[AdminLoginLogEntry] = strawberry.field(description="newest first")
    next_cursor: str | None


@strawberry.type(description="A stored message as administrators see it (removed ones erased).")
class AdminMessage:
    id: strawberry.ID
    channel_id: strawberry.ID
    pts: int
    sender_id: strawberry.ID
    type: str
    content: JSON
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: strawberry.ID | None

    @classmethod
    def from_record(cls, rec: MessageRecord) -> AdminMessage:
        return cls(
            id=to_id(rec.id or 0),
            channel_id=to_id(rec.channel_id),
            pts=rec.pts,
            sender_id=to_id(rec.sender_id),
            type=rec.type,
            content=cast(JSON, rec.content),
            created_at=from_ms_required(rec.created_at),
            revoked_at=from_ms_required(rec.revoked_at) if rec.revoked_at is not None else None,
            revoked_by=to_id(rec.revoked_by) if rec.revoked_by is not None else None,
        )


@strawberry.input
class AdminMessageListInput:
    channel_id: strawberry.ID | None = None
    sender_id: strawberry.ID | None = None
    message_id: strawberry.ID | None = None
    limit: int = 50
    cursor: str | None = None


@strawberry.type
class AdminMessageListPayload:
    messages: list[AdminMessage]
    next_cursor: str | None


@strawberry.input
class AdminMessageExportInput:
    channel_id: strawberry.ID
    limit: int = 500
    cursor: str | None = None


@strawberry.input
class AdminMessageDeleteInput:
    message_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="shown in the system line")


@strawberry.type
class AdminMessagePayload:
    message: AdminMessage


@strawberry.type
class AdminDayCount:
    day: datetime = strawberry.field(description="UTC midnight starting the day")
    messages: int


@strawberry.type
class AdminTransportCount:
    transport: str
    connections: int


@strawberry.input
class AdminStatsOverviewInput:
    days: int = strawberry.field(default=7, description="days of messagesPerDay, 1..90")


@strawberry.type(description="Server statistics.")
class AdminStatsOverview:
    users: int = strawberry.field(description="accounts not deleted")
    disabled_users: int
    deleted_users: int
    active_users_1d: int
    active_users_7d: int
    active_users_30d: int
    groups: int
    messages_per_day: list[AdminDayCount] = strawberry.field(description="oldest first, today (so far) last")
    online_users: int = strawberry.field(description="on every process")
    online_devices: int
    process: str = strawberry.field(description="host:pid of the process that answered")
    connections: list[AdminTransportCount] = strawberry.field(description="this process, per transport")
    storage_bytes: Long
    storage_files: int


@strawberry.input
class AdminBroadcastSendInput:
    text: str
    user_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="none: every user")


@strawberry.type
class AdminBroadcastSendPayload:
    broadcast_id: str
    recipients: int
    background: bool = strawberry.field(description="true: sending to everyone continues after this answer")


@strawberry.input
class AccountPasswordResetInput:
    token: str
    new_password: str
