"""admin/user/* and admin/friendship/* types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.accounts.tables import User as UserRecord
from app.contacts.tables import Friendship as FriendshipRecord
from schema.accounts import User
from schema.common import from_ms_required, to_id
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
