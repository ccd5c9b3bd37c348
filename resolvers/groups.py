"""group/* and admin/group/*"""

from __future__ import annotations

import strawberry

from app.context import RequestContext
from app.groups.permissions import Role
from app.groups.service import SettingsChanges
from app.ops import Audience, Auth, mutation, query
from schema.common import Ok, parse_id, to_id
from schema.groups import (
    AdminGroupDeleteInput,
    AdminGroupInfoInput,
    AdminGroupInfoPayload,
    AdminGroupListInput,
    AdminGroupListPayload,
    AdminGroupMemberAddInput,
    AdminGroupMemberAddPayload,
    AdminGroupMemberRemoveInput,
    AdminGroupUpdateInput,
    AdminGroupUpdatePayload,
    Group,
    GroupApprovalHandleInput,
    GroupApprovalHandlePayload,
    GroupApprovalListInput,
    GroupApprovalListPayload,
    GroupGroupCreateInput,
    GroupGroupCreatePayload,
    GroupGroupDismissInput,
    GroupGroupInfoInput,
    GroupGroupInfoPayload,
    GroupGroupListInput,
    GroupGroupListPayload,
    GroupJoinOutcome,
    GroupJoinQrcodeInput,
    GroupJoinQrcodePayload,
    GroupJoinRequest,
    GroupMember,
    GroupMemberAddInput,
    GroupMemberAddPayload,
    GroupMemberLeaveInput,
    GroupMemberListInput,
    GroupMemberListPayload,
    GroupMemberMuteInput,
    GroupMemberMutePayload,
    GroupMemberRemoveInput,
    GroupMemberUnmuteInput,
    GroupMemberUnmutePayload,
    GroupQrCode,
    GroupQrcodeGetInput,
    GroupQrcodeGetPayload,
    GroupQrcodeRefreshInput,
    GroupQrcodeRefreshPayload,
    GroupRoleSetInput,
    GroupRoleSetPayload,
    GroupRoleTransferOwnerInput,
    GroupRoleTransferOwnerPayload,
    GroupSettings,
    GroupSettingsGetInput,
    GroupSettingsGetPayload,
    GroupSettingsMuteAllInput,
    GroupSettingsMuteAllPayload,
    GroupSettingsUpdateInput,
    GroupSettingsUpdatePayload,
)


def _group_id(value: strawberry.ID) -> int:
    return parse_id(value, "groupId")


def _user_id(value: strawberry.ID) -> int:
    return parse_id(value, "userId")


# -- group/group/* ------------------------------------------------------------------------


async def group_group_create(ctx: RequestContext, input: GroupGroupCreateInput) -> GroupGroupCreatePayload:
    """Create a group you own with the members your contacts' privacy lets you add."""
    result = await ctx.services.groups.create(
        ctx.principal,
        name=input.name,
        member_ids=[parse_id(u, "memberIds") for u in input.member_ids],
        avatar_file_id=input.avatar_file_id,
        description=input.description,
    )
    return GroupGroupCreatePayload(
        group=Group.from_view(result.group), refused_user_ids=[to_id(u) for u in result.refused]
    )


async def group_group_info(ctx: RequestContext, input: GroupGroupInfoInput) -> GroupGroupInfoPayload:
    """A group you are in."""
    return GroupGroupInfoPayload(
        group=Group.from_view(await ctx.services.groups.info(ctx.principal, _group_id(input.group_id)))
    )


async def group_group_list(ctx: RequestContext, input: GroupGroupListInput) -> GroupGroupListPayload:
    """Your groups."""
    page = await ctx.services.groups.list_mine(ctx.principal, cursor=input.cursor, limit=input.limit)
    return GroupGroupListPayload(groups=[Group.from_view(v) for v in page.items], next_cursor=page.next_cursor)


async def group_group_dismiss(ctx: RequestContext, input: GroupGroupDismissInput) -> Ok:
    """Dismiss a group you own: it ends for every member."""
    await ctx.services.groups.dismiss(ctx.principal, _group_id(input.group_id))
    return Ok()


# -- group/member/* -----------------------------------------------------------------------


async def group_member_add(ctx: RequestContext, input: GroupMemberAddInput) -> GroupMemberAddPayload:
    """Invite users: added at once, or as join requests when the group needs approval."""
    result = await ctx.services.groups.members.add(
        ctx.principal,
        _group_id(input.group_id),
        [parse_id(u, "userIds") for u in input.user_ids],
        message=input.message,
    )
    return GroupMemberAddPayload(
        group=Group.from_view(result.group),
        added_user_ids=[to_id(u) for u in result.added],
        pending_user_ids=[to_id(u) for u in result.pending],
        refused_user_ids=[to_id(u) for u in result.refused],
    )


async def group_member_remove(ctx: RequestContext, input: GroupMemberRemoveInput) -> Ok:
    """Remove a member of a lower rank (optionally banning them from rejoining)."""
    await ctx.services.groups.members.remove(
        ctx.principal, _group_id(input.group_id), _user_id(input.user_id), ban=input.ban
    )
    return Ok()


async def group_member_list(ctx: RequestContext, input: GroupMemberListInput) -> GroupMemberListPayload:
    """The group's members by join time, with roles, mutes and inviters."""
    page = await ctx.services.groups.members.list_members(
        ctx.principal, _group_id(input.group_id), cursor=input.cursor, limit=input.limit
    )
    return GroupMemberListPayload(members=[GroupMember.from_view(v) for v in page.items], next_cursor=page.next_cursor)


async def group_member_leave(ctx: RequestContext, input: GroupMemberLeaveInput) -> Ok:
    """Leave a group (an owner transfers ownership or dismisses it instead)."""
    await ctx.services.groups.members.leave(ctx.principal, _group_id(input.group_id))
    return Ok()


async def group_member_mute(ctx: RequestContext, input: GroupMemberMuteInput) -> GroupMemberMutePayload:
    """Mute a member of a lower rank, for a while or until unmuted."""
    view = await ctx.services.groups.members.mute(
        ctx.principal, _group_id(input.group_id), _user_id(input.user_id), seconds=input.duration_seconds
    )
    return GroupMemberMutePayload(member=GroupMember.from_view(view))


async def group_member_unmute(ctx: RequestContext, input: GroupMemberUnmuteInput) -> GroupMemberUnmutePayload:
    """Let a muted member speak again."""
    view = await ctx.services.groups.members.unmute(ctx.principal, _group_id(input.group_id), _user_id(input.user_id))
    return GroupMemberUnmutePayload(member=GroupMember.from_view(view))


# -- group/role/* -------------------------------------------------------------------------


async def group_role_set(ctx: RequestContext, input: GroupRoleSetInput) -> GroupRoleSetPayload:
    """The owner makes a member an admin (ADMIN) or an admin a member again (MEMBER)."""
    view = await ctx.services.groups.members.set_role(
        ctx.principal, _group_id(input.group_id), _user_id(input.user_id), Role(input.role.value)
    )
    return GroupRoleSetPayload(member=GroupMember.from_view(view))


async def group_role_transfer_owner(
    ctx: RequestContext, input: GroupRoleTransferOwnerInput
) -> GroupRoleTransferOwnerPayload:
    """The owner hands the group to another member and becomes an admin."""
    view = await ctx.services.groups.members.transfer_owner(
        ctx.principal, _group_id(input.group_id), _user_id(input.user_id)
    )
    return GroupRoleTransferOwnerPayload(group=Group.from_view(view))


# -- group/settings/* ---------------------------------------------------------------------


async def group_settings_get(ctx: RequestContext, input: GroupSettingsGetInput) -> GroupSettingsGetPayload:
    """The group's settings."""
    view = await ctx.services.groups.info(ctx.principal, _group_id(input.group_id))
    group = Group.from_view(view)
    return GroupSettingsGetPayload(group=group, settings=GroupSettings.from_record(view.settings))


def _settings_changes(
    input: GroupSettingsUpdateInput | AdminGroupUpdateInput, *, avatar_file_id: str | None = None
) -> SettingsChanges:
    """The settings a member (or a server administrator) asked to change; None: unchanged."""
    return SettingsChanges(
        name=input.name,
        avatar_file_id=avatar_file_id,
        description=input.description,
        announcement=input.announcement,
        join_approval=input.join_approval,
        members_may_invite=input.members_may_invite,
        members_see_profiles=input.members_see_profiles,
        forbid_forward=input.forbid_forward,
        history_visible=input.history_visible,
        max_members=input.max_members,
    )


async def group_settings_update(ctx: RequestContext, input: GroupSettingsUpdateInput) -> GroupSettingsUpdatePayload:
    """Change the group's name, avatar, description, announcement or switches."""
    view = await ctx.services.groups.update_settings(
        ctx.principal,
        _group_id(input.group_id),
        _settings_changes(input, avatar_file_id=input.avatar_file_id),
    )
    return GroupSettingsUpdatePayload(group=Group.from_view(view))


async def group_settings_mute_all(ctx: RequestContext, input: GroupSettingsMuteAllInput) -> GroupSettingsMuteAllPayload:
    """Turn mute-all on (only the owner and admins may send) or off."""
    view = await ctx.services.groups.set_mute_all(ctx.principal, _group_id(input.group_id), enabled=input.enabled)
    return GroupSettingsMuteAllPayload(group=Group.from_view(view))


# -- group/approval/*, group/qrcode/*, group/join/qrcode ----------------------------------


async def group_approval_list(ctx: RequestContext, input: GroupApprovalListInput) -> GroupApprovalListPayload:
    """Pending join requests, oldest first (owner and admins)."""
    page = await ctx.services.groups.joins.list_requests(
        ctx.principal, _group_id(input.group_id), cursor=input.cursor, limit=input.limit
    )
    return GroupApprovalListPayload(
        requests=[GroupJoinRequest.from_view(v) for v in page.items], next_cursor=page.next_cursor
    )


async def group_approval_handle(ctx: RequestContext, input: GroupApprovalHandleInput) -> GroupApprovalHandlePayload:
    """Approve or reject a join request; the requester is notified."""
    view = await ctx.services.groups.joins.handle_request(
        ctx.principal, _group_id(input.group_id), _user_id(input.user_id), approve=input.approve
    )
    return GroupApprovalHandlePayload(group=Group.from_view(view))


async def group_qrcode_get(ctx: RequestContext, input: GroupQrcodeGetInput) -> GroupQrcodeGetPayload:
    """The group's QR code (owner and admins); it expires."""
    view = await ctx.services.groups.joins.qrcode(ctx.principal, _group_id(input.group_id))
    return GroupQrcodeGetPayload(qrcode=GroupQrCode.from_view(view))


async def group_qrcode_refresh(ctx: RequestContext, input: GroupQrcodeRefreshInput) -> GroupQrcodeRefreshPayload:
    """A new QR code; the old one stops working at once."""
    view = await ctx.services.groups.joins.refresh_qrcode(
        ctx.principal, _group_id(input.group_id), ttl_seconds=input.expires_in_seconds
    )
    return GroupQrcodeRefreshPayload(qrcode=GroupQrCode.from_view(view))


async def group_join_qrcode(ctx: RequestContext, input: GroupJoinQrcodeInput) -> GroupJoinQrcodePayload:
    """Join a group with its QR code (a join request when the group needs approval)."""
    result = await ctx.services.groups.joins.join_by_qrcode(ctx.principal, input.qrcode, message=input.message)
    return GroupJoinQrcodePayload(
        outcome=GroupJoinOutcome(result.outcome.value),
        group_id=to_id(result.group_id),
        group=Group.from_view(result.group) if result.group is not None else None,
    )


# -- admin/group/* ------------------------------------------------------------------------


async def admin_group_list(ctx: RequestContext, input: AdminGroupListInput) -> AdminGroupListPayload:
    """All groups by id, optionally by name prefix and with dismissed ones."""
    page = await ctx.services.groups.admin_list(
        name_prefix=input.query, include_dismissed=input.include_dismissed, cursor=input.cursor, limit=input.limit
    )
    return AdminGroupListPayload(groups=[Group.from_view(v) for v in page.items], next_cursor=page.next_cursor)


async def admin_group_info(ctx: RequestContext, input: AdminGroupInfoInput) -> AdminGroupInfoPayload:
    """Any group, with its owner."""
    view, owner = await ctx.services.groups.admin_info(_group_id(input.group_id))
    return AdminGroupInfoPayload.of(view, owner)


async def admin_group_delete(ctx: RequestContext, input: AdminGroupDeleteInput) -> Ok:
    """Delete a group: its members are told and lose it."""
    await ctx.services.groups.admin_delete(_group_id(input.group_id))
    return Ok()


async def admin_group_update(ctx: RequestContext, input: AdminGroupUpdateInput) -> AdminGroupUpdatePayload:
    """Change any group's settings as a server administrator (a system line says so)."""
    view = await ctx.services.groups.admin_update(
        _group_id(input.group_id),
        _settings_changes(input),
        actor_id=await ctx.services.notices.acting_user(ctx.maybe_principal),
    )
    return AdminGroupUpdatePayload(group=Group.from_view(view))


async def admin_group_member_add(ctx: RequestContext, input: AdminGroupMemberAddInput) -> AdminGroupMemberAddPayload:
    """Add users to any group as a super-owner (privacy and bans do not apply; the member limit does)."""
    added = await ctx.services.groups.members.admin_add(
        _group_id(input.group_id),
        [parse_id(u, "userIds") for u in input.user_ids],
        actor_id=await ctx.services.notices.acting_user(ctx.maybe_principal),
    )
    return AdminGroupMemberAddPayload(added_user_ids=[to_id(u) for u in added])


async def admin_group_member_remove(ctx: RequestContext, input: AdminGroupMemberRemoveInput) -> Ok:
    """Remove any member but the owner from a group, optionally banning them."""
    await ctx.services.groups.members.admin_remove(
        _group_id(input.group_id),
        parse_id(input.user_id, "userId"),
        actor_id=await ctx.services.notices.acting_user(ctx.maybe_principal),
        ban=input.ban,
    )
    return Ok()


OPERATIONS = [
    mutation("group/group/create", group_group_create, rate_limit="30/minute", audience=Audience.USER),
    query("group/group/info", group_group_info, audience=Audience.MEMBER),
    query("group/group/list", group_group_list, audience=Audience.SELF),
    mutation("group/group/dismiss", group_group_dismiss, audience=Audience.GROUP_OWNER),
    mutation("group/member/add", group_member_add, audience=Audience.MEMBER),
    mutation("group/member/remove", group_member_remove, audience=Audience.GROUP_ADMIN),
    query("group/member/list", group_member_list, audience=Audience.MEMBER),
    mutation("group/member/leave", group_member_leave, audience=Audience.MEMBER),
    mutation("group/member/mute", group_member_mute, audience=Audience.GROUP_ADMIN),
    mutation("group/member/unmute", group_member_unmute, audience=Audience.GROUP_ADMIN),
    mutation("group/role/set", group_role_set, audience=Audience.GROUP_OWNER),
    mutation("group/role/transfer_owner", group_role_transfer_owner, audience=Audience.GROUP_OWNER),
    query("group/settings/get", group_settings_get, audience=Audience.MEMBER),
    mutation("group/settings/update", group_settings_update, audience=Audience.GROUP_ADMIN),
    mutation("group/settings/mute_all", group_settings_mute_all, audience=Audience.GROUP_ADMIN),
    query("group/approval/list", group_approval_list, audience=Audience.GROUP_ADMIN),
    mutation("group/approval/handle", group_approval_handle, audience=Audience.GROUP_ADMIN),
    query("group/qrcode/get", group_qrcode_get, audience=Audience.MEMBER),
    mutation("group/qrcode/refresh", group_qrcode_refresh, audience=Audience.GROUP_ADMIN),
    mutation("group/join/qrcode", group_join_qrcode, rate_limit="30/minute", audience=Audience.USER),
    query("admin/group/list", admin_group_list, auth=Auth.ADMIN),
    query("admin/group/info", admin_group_info, auth=Auth.ADMIN),
    mutation("admin/group/delete", admin_group_delete, auth=Auth.ADMIN),
    mutation("admin/group/update", admin_group_update, auth=Auth.ADMIN),
    mutation("admin/group/member/add", admin_group_member_add, auth=Auth.ADMIN),
    mutation("admin/group/member/remove", admin_group_member_remove, auth=Auth.ADMIN),
]
