"""admin/user/*, admin/friendship/* (an admin user's session or the X-Service-Key)."""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Auth, mutation, query
from schema.admin import (
    AdminFriendship,
    AdminFriendshipCreateInput,
    AdminFriendshipCreatePayload,
    AdminFriendshipListInput,
    AdminFriendshipListPayload,
    AdminFriendshipRemoveInput,
    AdminUser,
    AdminUserCreateInput,
    AdminUserCreatePayload,
    AdminUserFriendsInput,
    AdminUserFriendsPayload,
    AdminUserListInput,
    AdminUserListPayload,
)
from schema.common import Ok, parse_id
from schema.contacts import Friend


async def admin_user_create(ctx: RequestContext, input: AdminUserCreateInput) -> AdminUserCreatePayload:
    """Create a user (optionally an administrator)."""
    user = await ctx.services.admin.create_user(
        username=input.username,
        password=input.password,
        display_name=input.display_name,
        email=input.email,
        phone=input.phone,
        is_admin=input.is_admin,
    )
    return AdminUserCreatePayload(user=AdminUser.from_record(user))


async def admin_user_list(ctx: RequestContext, input: AdminUserListInput) -> AdminUserListPayload:
    """All users by id, optionally filtered by name prefix or exact email/phone."""
    page = await ctx.services.admin.list_users(text=input.query, cursor=input.cursor, limit=input.limit)
    return AdminUserListPayload(users=[AdminUser.from_record(u) for u in page.items], next_cursor=page.next_cursor)


async def admin_user_friends(ctx: RequestContext, input: AdminUserFriendsInput) -> AdminUserFriendsPayload:
    """A user's friends."""
    page = await ctx.services.admin.user_friends(
        parse_id(input.user_id, "userId"), cursor=input.cursor, limit=input.limit
    )
    return AdminUserFriendsPayload(friends=[Friend.from_view(v) for v in page.items], next_cursor=page.next_cursor)


async def admin_friendship_create(
    ctx: RequestContext, input: AdminFriendshipCreateInput
) -> AdminFriendshipCreatePayload:
    """Make two users friends (with their direct channel); both are notified."""
    view = await ctx.services.admin.create_friendship(
        parse_id(input.user_id, "userId"), parse_id(input.friend_id, "friendId")
    )
    friend = Friend.from_view(view)
    return AdminFriendshipCreatePayload(friend=friend, channel_id=friend.channel_id)


async def admin_friendship_list(ctx: RequestContext, input: AdminFriendshipListInput) -> AdminFriendshipListPayload:
    """Every friendship once (or all of one user's)."""
    user_id = parse_id(input.user_id, "userId") if input.user_id is not None else None
    page = await ctx.services.admin.list_friendships(user_id=user_id, cursor=input.cursor, limit=input.limit)
    return AdminFriendshipListPayload(
        friendships=[AdminFriendship.from_records(*row) for row in page.items], next_cursor=page.next_cursor
    )


async def admin_friendship_remove(ctx: RequestContext, input: AdminFriendshipRemoveInput) -> Ok:
    """End a friendship; both users are notified."""
    await ctx.services.admin.remove_friendship(parse_id(input.user_id, "userId"), parse_id(input.friend_id, "friendId"))
    return Ok()


OPERATIONS = [
    mutation("admin/user/create", admin_user_create, auth=Auth.ADMIN),
    query("admin/user/list", admin_user_list, auth=Auth.ADMIN),
    query("admin/user/friends", admin_user_friends, auth=Auth.ADMIN),
    mutation("admin/friendship/create", admin_friendship_create, auth=Auth.ADMIN),
    query("admin/friendship/list", admin_friendship_list, auth=Auth.ADMIN),
    mutation("admin/friendship/remove", admin_friendship_remove, auth=Auth.ADMIN),
]
