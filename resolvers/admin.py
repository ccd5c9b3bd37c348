"""admin/user/*, admin/friendship/* (an admin user's session or the X-Service-Key)."""

from __future__ import annotations

from datetime import datetime

from strawberry import ID

from app.admin.users import LoginLogQuery, UserChanges
from app.context import RequestContext
from app.ops import Auth, mutation, query
from schema.admin import (
    AccountPasswordResetInput,
    AdminAuditEntry,
    AdminAuditListInput,
    AdminAuditListPayload,
    AdminBroadcastSendInput,
    AdminBroadcastSendPayload,
    AdminCountPayload,
    AdminDayCount,
    AdminDevice,
    AdminDeviceListInput,
    AdminDeviceListPayload,
    AdminDeviceRevokeInput,
    AdminFriendship,
    AdminFriendshipCreateInput,
    AdminFriendshipCreatePayload,
    AdminFriendshipListInput,
    AdminFriendshipListPayload,
    AdminFriendshipRemoveInput,
    AdminLoginLogEntry,
    AdminLoginLogListInput,
    AdminLoginLogListPayload,
    AdminMessage,
    AdminMessageDeleteInput,
    AdminMessageExportInput,
    AdminMessageListInput,
    AdminMessageListPayload,
    AdminMessagePayload,
    AdminStatsOverview,
    AdminStatsOverviewInput,
    AdminTransportCount,
    AdminUser,
    AdminUserCreateInput,
    AdminUserCreatePayload,
    AdminUserDeleteInput,
    AdminUserDisableInput,
    AdminUserEnableInput,
    AdminUserFriendsInput,
    AdminUserFriendsPayload,
    AdminUserGetInput,
    AdminUserListInput,
    AdminUserListPayload,
    AdminUserLogoutAllInput,
    AdminUserPayload,
    AdminUserResetPasswordInput,
    AdminUserResetPasswordPayload,
    AdminUserSetRoleInput,
    AdminUserUpdateInput,
)
from schema.common import Long, Ok, from_ms_required, parse_id
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


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


async def admin_audit_list(ctx: RequestContext, input: AdminAuditListInput) -> AdminAuditListPayload:
    """The audit log of privileged calls, newest first, by actor, route, target and time."""
    page = await ctx.services.audit.list(
        actor_user_id=parse_id(input.actor_user_id, "actorUserId") if input.actor_user_id is not None else None,
        route=input.route,
        target=input.target,
        since_ms=_ms(input.since),
        until_ms=_ms(input.until),
        cursor=input.cursor,
        limit=input.limit,
    )
    return AdminAuditListPayload(
        entries=[AdminAuditEntry.from_record(e) for e in page.items], next_cursor=page.next_cursor
    )


def _uid(value: ID | str) -> int:
    return parse_id(value, "userId")


def _opt_id(value: ID | None, field: str) -> int | None:
    return parse_id(value, field) if value is not None else None


async def _acting_user(ctx: RequestContext) -> int:
    return await ctx.services.notices.acting_user(ctx.maybe_principal)


async def admin_user_get(ctx: RequestContext, input: AdminUserGetInput) -> AdminUserPayload:
    """Any user by id (disabled and deleted ones too)."""
    return AdminUserPayload(user=AdminUser.from_record(await ctx.services.admin_users.get(_uid(input.user_id))))


async def admin_user_update(ctx: RequestContext, input: AdminUserUpdateInput) -> AdminUserPayload:
    """Change a user's display name, email, phone or bio (their friends and group members see it live)."""
    changes = UserChanges(display_name=input.display_name, email=input.email, phone=input.phone, bio=input.bio)
    user = await ctx.services.admin_users.update(_uid(input.user_id), changes)
    return AdminUserPayload(user=AdminUser.from_record(user))


async def admin_user_disable(ctx: RequestContext, input: AdminUserDisableInput) -> AdminUserPayload:
    """Disable a user: logins are refused and every session ends at once."""
    user = await ctx.services.admin_users.set_disabled(_uid(input.user_id), True)
    return AdminUserPayload(user=AdminUser.from_record(user))


async def admin_user_enable(ctx: RequestContext, input: AdminUserEnableInput) -> AdminUserPayload:
    """Enable a disabled user again."""
    user = await ctx.services.admin_users.set_disabled(_uid(input.user_id), False)
    return AdminUserPayload(user=AdminUser.from_record(user))


async def admin_user_delete(ctx: RequestContext, input: AdminUserDeleteInput) -> AdminUserPayload:
    """Delete a user: personal data and messages erased, the id kept (docs/OPERATIONS.md)."""
    user = await ctx.services.admin_users.delete(_uid(input.user_id), actor_id=await _acting_user(ctx))
    return AdminUserPayload(user=AdminUser.from_record(user))


async def admin_user_logout_all(ctx: RequestContext, input: AdminUserLogoutAllInput) -> AdminCountPayload:
    """End every session of a user (their connections close)."""
    return AdminCountPayload(count=await ctx.services.admin_users.logout_all(_uid(input.user_id)))


async def admin_user_reset_password(
    ctx: RequestContext, input: AdminUserResetPasswordInput
) -> AdminUserResetPasswordPayload:
    """A one-time password reset token (24 h) for the user to set a new password."""
    token, expires = await ctx.services.admin_users.reset_password(_uid(input.user_id))
    return AdminUserResetPasswordPayload(token=token, expires_at=from_ms_required(expires))


async def admin_user_set_role(ctx: RequestContext, input: AdminUserSetRoleInput) -> AdminUserPayload:
    """Make a user an administrator or a normal user (never the last administrator)."""
    user = await ctx.services.admin_users.set_role(_uid(input.user_id), is_admin=input.is_admin)
    return AdminUserPayload(user=AdminUser.from_record(user))


async def admin_device_list(ctx: RequestContext, input: AdminDeviceListInput) -> AdminDeviceListPayload:
    """A user's live device sessions."""
    rows = await ctx.services.admin_users.devices_of(_uid(input.user_id))
    return AdminDeviceListPayload(devices=[AdminDevice.from_record(r) for r in rows])


async def admin_device_revoke(ctx: RequestContext, input: AdminDeviceRevokeInput) -> AdminCountPayload:
    """Revoke a user's device (its connections close)."""
    count = await ctx.services.admin_users.revoke_device(_uid(input.user_id), input.device_id)
    return AdminCountPayload(count=count)


async def admin_login_log_list(ctx: RequestContext, input: AdminLoginLogListInput) -> AdminLoginLogListPayload:
    """Login attempts, newest first, by user, IP, outcome and time."""
    query = LoginLogQuery(
        user_id=_opt_id(input.user_id, "userId"),
        ip=input.ip,
        success=input.success,
        since_ms=_ms(input.since),
        until_ms=_ms(input.until),
    )
    page = await ctx.services.admin_users.login_logs(query, cursor=input.cursor, limit=input.limit)
    return AdminLoginLogListPayload(
        entries=[AdminLoginLogEntry.from_record(r) for r in page.items], next_cursor=page.next_cursor
    )


async def admin_message_list(ctx: RequestContext, input: AdminMessageListInput) -> AdminMessageListPayload:
    """Messages by id, channel or sender, newest first."""
    page = await ctx.services.admin_messages.find(
        channel_id=_opt_id(input.channel_id, "channelId"),
        sender_id=_opt_id(input.sender_id, "senderId"),
        message_id=_opt_id(input.message_id, "messageId"),
        cursor=input.cursor,
        limit=input.limit,
    )
    return AdminMessageListPayload(
        messages=[AdminMessage.from_record(m) for m in page.items], next_cursor=page.next_cursor
    )


async def admin_message_export(ctx: RequestContext, input: AdminMessageExportInput) -> AdminMessageListPayload:
    """A channel's whole history in pts order (legal requests), up to 1000 per page."""
    page = await ctx.services.admin_messages.export(
        parse_id(input.channel_id, "channelId"), cursor=input.cursor, limit=input.limit
    )
    return AdminMessageListPayload(
        messages=[AdminMessage.from_record(m) for m in page.items], next_cursor=page.next_cursor
    )


async def admin_message_delete(ctx: RequestContext, input: AdminMessageDeleteInput) -> AdminMessagePayload:
    """Remove any message: erased like a revoke, with a system line."""
    message = await ctx.services.admin_messages.delete(
        parse_id(input.message_id, "messageId"), actor_id=await _acting_user(ctx), reason=input.reason
    )
    return AdminMessagePayload(message=AdminMessage.from_record(message))


async def admin_stats_overview(ctx: RequestContext, input: AdminStatsOverviewInput) -> AdminStatsOverview:
    """Users, active users, messages per day, groups, online now, storage."""
    o = await ctx.services.admin_stats.overview(days=input.days)
    return AdminStatsOverview(
        users=o.users,
        disabled_users=o.disabled_users,
        deleted_users=o.deleted_users,
        active_users_1d=o.active_1d,
        active_users_7d=o.active_7d,
        active_users_30d=o.active_30d,
        groups=o.groups,
        messages_per_day=[
            AdminDayCount(day=from_ms_required(d.day_start_ms), messages=d.messages) for d in o.messages_per_day
        ],
        online_users=o.online_users,
        online_devices=o.online_devices,
        process=o.process,
        connections=[AdminTransportCount(transport=t, connections=n) for t, n in sorted(o.connections.items())],
        storage_bytes=Long(o.storage_bytes),
        storage_files=o.storage_files,
    )


async def admin_broadcast_send(ctx: RequestContext, input: AdminBroadcastSendInput) -> AdminBroadcastSendPayload:
    """A system notice from the system account to the listed users, or to everyone."""
    user_ids = [parse_id(u, "userIds") for u in input.user_ids] if input.user_ids is not None else None
    receipt = await ctx.services.notices.broadcast(input.text, user_ids)
    return AdminBroadcastSendPayload(
        broadcast_id=receipt.broadcast_id, recipients=receipt.recipients, background=receipt.background
    )


async def account_password_reset(ctx: RequestContext, input: AccountPasswordResetInput) -> Ok:
    """Set a new password with a one-time token from an administrator; every session ends."""
    await ctx.services.admin_users.use_reset_token(input.token, input.new_password)
    return Ok()


OPERATIONS = [
    mutation("admin/user/create", admin_user_create, auth=Auth.ADMIN),
    query("admin/user/list", admin_user_list, auth=Auth.ADMIN),
    query("admin/user/friends", admin_user_friends, auth=Auth.ADMIN),
    mutation("admin/friendship/create", admin_friendship_create, auth=Auth.ADMIN),
    query("admin/friendship/list", admin_friendship_list, auth=Auth.ADMIN),
    mutation("admin/friendship/remove", admin_friendship_remove, auth=Auth.ADMIN),
    query("admin/audit/list", admin_audit_list, auth=Auth.ADMIN),
    query("admin/user/get", admin_user_get, auth=Auth.ADMIN),
    mutation("admin/user/update", admin_user_update, auth=Auth.ADMIN),
    mutation("admin/user/disable", admin_user_disable, auth=Auth.ADMIN),
    mutation("admin/user/enable", admin_user_enable, auth=Auth.ADMIN),
    mutation("admin/user/delete", admin_user_delete, auth=Auth.ADMIN),
    mutation("admin/user/logout_all", admin_user_logout_all, auth=Auth.ADMIN),
    mutation("admin/user/reset_password", admin_user_reset_password, auth=Auth.ADMIN),
    mutation("admin/user/set_role", admin_user_set_role, auth=Auth.ADMIN),
    query("admin/device/list", admin_device_list, auth=Auth.ADMIN),
    mutation("admin/device/revoke", admin_device_revoke, auth=Auth.ADMIN),
    query("admin/login_log/list", admin_login_log_list, auth=Auth.ADMIN),
    query("admin/message/list", admin_message_list, auth=Auth.ADMIN),
    query("admin/message/export", admin_message_export, auth=Auth.ADMIN),
    mutation("admin/message/delete", admin_message_delete, auth=Auth.ADMIN),
    query("admin/stats/overview", admin_stats_overview, auth=Auth.ADMIN),
    mutation("admin/broadcast/send", admin_broadcast_send, auth=Auth.ADMIN),
    mutation("account/password/reset", account_password_reset, auth=Auth.NONE),
]
