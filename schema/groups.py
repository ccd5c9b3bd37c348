"""group/* and admin/group/* types, the groups' channel events and user updates.

Imported by schema/messages.py (channel event kinds) and schema/events.py (user update
kinds), so it must not import either."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.accounts.tables import User as UserRecord
from app.groups.tables import GroupSettings as GroupSettingsRecord
from app.groups.views import GroupView, MemberView, QrCodeView, RequestView
from schema.accounts import User
from schema.common import from_ms, from_ms_required, to_id
from schema.contacts import user_from_card
from schema.event_interfaces import ChannelEvent, UserUpdateEvent


@strawberry.enum
class GroupRole(Enum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@strawberry.enum(description="How a join request came about.")
class GroupJoinSource(Enum):
    INVITE = "invite"
    QRCODE = "qrcode"


@strawberry.enum(description="JOINED: you are a member now. PENDING: an owner or admin must approve.")
class GroupJoinOutcome(Enum):
    JOINED = "joined"
    PENDING = "pending"


def _role(value: str) -> GroupRole:
    try:
        return GroupRole(value)
    except ValueError:
        return GroupRole.MEMBER


def _optional_id(value: Any) -> strawberry.ID | None:
    return None if value is None else to_id(int(value))


@strawberry.type
class GroupSettings:
    join_approval: bool = strawberry.field(description="invitations by members and QR joins need approval")
    members_may_invite: bool
    members_see_profiles: bool = strawberry.field(description="members may see each other's full profiles")
    forbid_forward: bool
    history_visible: bool = strawberry.field(description="new members see messages from before they joined")
    mute_all: bool = strawberry.field(description="only the owner and admins may send")
    max_members: int

    @classmethod
    def from_record(cls, rec: GroupSettingsRecord) -> GroupSettings:
        return cls(
            join_approval=rec.join_approval,
            members_may_invite=rec.members_may_invite,
            members_see_profiles=rec.members_see_profiles,
            forbid_forward=rec.forbid_forward,
            history_visible=rec.history_visible,
            mute_all=rec.mute_all,
            max_members=rec.max_members,
        )


@strawberry.type(description="The group's pinned notice.")
class GroupAnnouncement:
    text: str
    updated_by: strawberry.ID | None
    updated_at: datetime | None


@strawberry.type(description="A group; its id is its channel's id (send with messageSend(channelId: id)).")
class Group:
    id: strawberry.ID
    name: str
    avatar_file_id: str | None
    description: str | None
    announcement: GroupAnnouncement | None
    owner_id: strawberry.ID | None
    member_count: int
    max_members: int
    pts: int
    created_at: datetime
    settings: GroupSettings
    my_role: GroupRole | None = strawberry.field(description="null when seen by a server administrator")
    muted: bool = strawberry.field(description="you may not send now (muted, or mute-all is on)")
    visible_from_pts: int | None = strawberry.field(
        description="events up to this pts are hidden from you (history was hidden when you joined): "
        "start syncing the group from here"
    )
    dismissed_at: datetime | None

    @classmethod
    def from_view(cls, view: GroupView) -> Group:
        c, s = view.channel, view.settings
        return cls(
            id=to_id(view.id),
            name=c.title or "",
            avatar_file_id=c.avatar_file_id,
            description=s.description,
            announcement=GroupAnnouncement(
                text=s.announcement, updated_by=_optional_id(s.announcement_by), updated_at=from_ms(s.announcement_at)
            )
            if s.announcement
            else None,
            owner_id=_optional_id(c.owner_id),
            member_count=c.member_count,
            max_members=s.max_members,
            pts=c.pts,
            created_at=from_ms_required(c.created_at),
            settings=GroupSettings.from_record(s),
            my_role=GroupRole(view.my_role.value) if view.my_role is not None else None,
            muted=view.muted,
            visible_from_pts=view.me.visible_from_pts if view.me is not None else None,
            dismissed_at=from_ms(c.deleted_at),
        )


@strawberry.type
class GroupMember:
    user_id: strawberry.ID
    display_name: str
    avatar_file_id: str | None
    user: User | None = strawberry.field(description="the full profile; null when the group hides profiles")
    role: GroupRole
    joined_at: datetime
    invited_by: strawberry.ID | None
    muted: bool
    muted_until: datetime | None = strawberry.field(
        description="when a timed mute ends (null: not muted, or indefinitely)"
    )

    @classmethod
    def from_view(cls, view: MemberView) -> GroupMember:
        m, u = view.member, view.user
        return cls(
            user_id=to_id(m.user_id),
            display_name=u.display_name,
            avatar_file_id=u.avatar_file_id,
            user=User.from_record(u) if view.profile_visible else None,
            role=_role(m.role),
            joined_at=from_ms_required(m.joined_at),
            invited_by=_optional_id(m.invited_by),
            muted=view.muted,
            muted_until=from_ms(view.muted_until),
        )


@strawberry.type
class GroupJoinRequest:
    user: User
    inviter_id: strawberry.ID | None = strawberry.field(description="who invited them, or whose QR code they used")
    source: GroupJoinSource
    message: str | None
    created_at: datetime

    @classmethod
    def from_view(cls, view: RequestView) -> GroupJoinRequest:
        r = view.request
        return cls(
            user=User.from_record(view.user),
            inviter_id=_optional_id(r.inviter_id),
            source=GroupJoinSource(r.source),
            message=r.message,
            created_at=from_ms_required(r.created_at),
        )


@strawberry.type
class GroupQrCode:
    group_id: strawberry.ID
    payload: str = strawberry.field(description="what the QR code encodes: privchat://group/<token>")
    token: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_view(cls, view: QrCodeView) -> GroupQrCode:
        return cls(
            group_id=to_id(view.group_id),
            payload=view.payload,
            token=view.token,
            created_at=from_ms_required(view.created_at),
            expires_at=from_ms_required(view.expires_at),
        )


# --- channel events ----------------------------------------------------------------------


@strawberry.interface(description="A change to a group, stored in its channel with a pts.")
class GroupEvent(ChannelEvent):
    kind: str
    actor_id: strawberry.ID | None
    at: datetime


def _base(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel_id": to_id(d["channelId"]),
        "pts": d["pts"],
        "kind": d.get("kind", ""),
        "actor_id": _optional_id(d.get("actorId")),
        "at": from_ms_required(d["at"]),
    }


def _ids(values: Any) -> list[strawberry.ID]:
    return [to_id(int(v)) for v in values or []]


@strawberry.type
class GroupCreatedEvent(GroupEvent):
    name: str
    owner_id: strawberry.ID
    member_ids: list[strawberry.ID]


@strawberry.type(description="Members joined (invited, by QR code, or approved).")
class GroupMembersJoinedEvent(GroupEvent):
    user_ids: list[strawberry.ID]
    inviter_id: strawberry.ID | None
    via: str = strawberry.field(description="invite | qrcode | approval")


@strawberry.type
class GroupMemberLeftEvent(GroupEvent):
    user_id: strawberry.ID


@strawberry.type
class GroupMemberRemovedEvent(GroupEvent):
    user_id: strawberry.ID
    banned: bool


@strawberry.type
class GroupMemberRoleChangedEvent(GroupEvent):
    user_id: strawberry.ID
    role: GroupRole


@strawberry.type
class GroupOwnerTransferredEvent(GroupEvent):
    from_user_id: strawberry.ID
    to_user_id: strawberry.ID


@strawberry.type(description="A member was muted or unmuted.")
class GroupMemberMutedEvent(GroupEvent):
    user_id: strawberry.ID
    muted: bool
    muted_until: datetime | None = strawberry.field(description="null: until unmuted (or not muted)")


@strawberry.type
class GroupMuteAllChangedEvent(GroupEvent):
    enabled: bool


@strawberry.type
class GroupSettingsChangedEvent(GroupEvent):
    changes: JSON = strawberry.field(description="the changed settings and their new values, by input field name")


@strawberry.type
class GroupAnnouncementChangedEvent(GroupEvent):
    text: str | None = strawberry.field(description="null: the announcement was removed")


@strawberry.type(description="The group was dismissed by its owner (or deleted by an administrator).")
class GroupDismissedEvent(GroupEvent):
    reason: str


GROUP_EVENT_KINDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "group_created": lambda d: GroupCreatedEvent(
        **_base(d),
        name=d["payload"].get("name", ""),
        owner_id=to_id(int(d["payload"]["ownerId"])),
        member_ids=_ids(d["payload"].get("memberIds")),
    ),
    "member_joined": lambda d: GroupMembersJoinedEvent(
        **_base(d),
        user_ids=_ids(d["payload"].get("userIds")),
        inviter_id=_optional_id(d["payload"].get("inviterId")),
        via=d["payload"].get("via", "invite"),
    ),
    "member_left": lambda d: GroupMemberLeftEvent(**_base(d), user_id=to_id(int(d["payload"]["userId"]))),
    "member_removed": lambda d: GroupMemberRemovedEvent(
        **_base(d), user_id=to_id(int(d["payload"]["userId"])), banned=bool(d["payload"].get("banned"))
    ),
    "member_role_changed": lambda d: GroupMemberRoleChangedEvent(
        **_base(d), user_id=to_id(int(d["payload"]["userId"])), role=_role(d["payload"].get("role", ""))
    ),
    "owner_transferred": lambda d: GroupOwnerTransferredEvent(
        **_base(d),
        from_user_id=to_id(int(d["payload"]["fromUserId"])),
        to_user_id=to_id(int(d["payload"]["toUserId"])),
    ),
    "member_muted": lambda d: GroupMemberMutedEvent(
        **_base(d),
        user_id=to_id(int(d["payload"]["userId"])),
        muted=True,
        muted_until=from_ms(d["payload"].get("mutedUntil")),
    ),
    "member_unmuted": lambda d: GroupMemberMutedEvent(
        **_base(d), user_id=to_id(int(d["payload"]["userId"])), muted=False, muted_until=None
    ),
    "mute_all_changed": lambda d: GroupMuteAllChangedEvent(**_base(d), enabled=bool(d["payload"].get("enabled"))),
    "group_settings_changed": lambda d: GroupSettingsChangedEvent(**_base(d), changes=d["payload"].get("changes", {})),
    "announcement_changed": lambda d: GroupAnnouncementChangedEvent(**_base(d), text=d["payload"].get("text")),
    "group_dismissed": lambda d: GroupDismissedEvent(**_base(d), reason=d["payload"].get("reason", "dismissed")),
}
GROUP_EVENT_TYPES: tuple[type, ...] = (
    GroupCreatedEvent,
    GroupMembersJoinedEvent,
    GroupMemberLeftEvent,
    GroupMemberRemovedEvent,
    GroupMemberRoleChangedEvent,
    GroupOwnerTransferredEvent,
    GroupMemberMutedEvent,
    GroupMuteAllChangedEvent,
    GroupSettingsChangedEvent,
    GroupAnnouncementChangedEvent,
    GroupDismissedEvent,
)


# --- user updates ------------------------------------------------------------------------


@strawberry.type(description="You are no longer in a channel (you left, were removed, or it was dismissed).")
class ChannelRemovedEvent(UserUpdateEvent):
    channel_id: strawberry.ID
    kind: str
    reason: str = strawberry.field(description="left | removed | dismissed | deleted")
    removed_by: strawberry.ID | None

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> ChannelRemovedEvent:
        return cls(
            seq=seq,
            channel_id=to_id(int(payload["channelId"])),
            kind=payload.get("kind", "group"),
            reason=payload.get("reason", "removed"),
            removed_by=_optional_id(payload.get("by")),
        )


@strawberry.type(description="Someone asks to join a group you own or administer.")
class GroupJoinRequestReceivedEvent(UserUpdateEvent):
    group_id: strawberry.ID
    group_name: str
    user: User
    inviter_id: strawberry.ID | None
    source: GroupJoinSource
    request_message: str | None

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> GroupJoinRequestReceivedEvent:
        return cls(
            seq=seq,
            group_id=to_id(int(payload["groupId"])),
            group_name=payload.get("groupName") or "",
            user=user_from_card(payload["user"]),
            inviter_id=_optional_id(payload.get("inviterId")),
            source=GroupJoinSource(payload.get("source", "invite")),
            request_message=payload.get("message"),
        )


@strawberry.type(description="A join request was approved or rejected (sent to the requester and the inviter).")
class GroupJoinRequestHandledEvent(UserUpdateEvent):
    group_id: strawberry.ID
    group_name: str
    user_id: strawberry.ID
    approved: bool
    handled_by: strawberry.ID

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> GroupJoinRequestHandledEvent:
        return cls(
            seq=seq,
            group_id=to_id(int(payload["groupId"])),
            group_name=payload.get("groupName") or "",
            user_id=to_id(int(payload["userId"])),
            approved=bool(payload.get("approved")),
            handled_by=to_id(int(payload["handledBy"])),
        )


GROUP_UPDATE_KINDS: dict[str, Callable[[int, dict[str, Any]], Any]] = {
    "channel_removed": ChannelRemovedEvent.from_update,
    "group_join_request": GroupJoinRequestReceivedEvent.from_update,
    "group_join_request_handled": GroupJoinRequestHandledEvent.from_update,
}
GROUP_UPDATE_TYPES: tuple[type, ...] = (
    ChannelRemovedEvent,
    GroupJoinRequestReceivedEvent,
    GroupJoinRequestHandledEvent,
)


# --- operations --------------------------------------------------------------------------


@strawberry.input
class GroupGroupCreateInput:
    name: str
    member_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    avatar_file_id: str | None = strawberry.field(
        default=None, description="an image uploaded with purpose GROUP_AVATAR; an empty string removes it"
    )
    description: str | None = None


@strawberry.type
class GroupGroupCreatePayload:
    group: Group
    refused_user_ids: list[strawberry.ID] = strawberry.field(
        description="users whose privacy settings do not let you add them (not added)"
    )


@strawberry.input
class GroupGroupInfoInput:
    group_id: strawberry.ID


@strawberry.type
class GroupGroupInfoPayload:
    group: Group


@strawberry.input
class GroupGroupListInput:
    cursor: str | None = None
    limit: int = 50


@strawberry.type
class GroupGroupListPayload:
    groups: list[Group]
    next_cursor: str | None


@strawberry.input
class GroupGroupDismissInput:
    group_id: strawberry.ID


@strawberry.input
class GroupMemberAddInput:
    group_id: strawberry.ID
    user_ids: list[strawberry.ID]
    message: str | None = strawberry.field(default=None, description="shown with join requests")


@strawberry.type
class GroupMemberAddPayload:
    group: Group
    added_user_ids: list[strawberry.ID]
    pending_user_ids: list[strawberry.ID] = strawberry.field(description="invitations waiting for approval")
    refused_user_ids: list[strawberry.ID] = strawberry.field(description="their privacy (or a ban) does not allow it")


@strawberry.input
class GroupMemberRemoveInput:
    group_id: strawberry.ID
    user_id: strawberry.ID
    ban: bool = strawberry.field(default=False, description="also forbid them to rejoin")


@strawberry.input
class GroupMemberListInput:
    group_id: strawberry.ID
    cursor: str | None = None
    limit: int = 50


@strawberry.type
class GroupMemberListPayload:
    members: list[GroupMember]
    next_cursor: str | None


@strawberry.input
class GroupMemberLeaveInput:
    group_id: strawberry.ID


@strawberry.input
class GroupMemberMuteInput:
    group_id: strawberry.ID
    user_id: strawberry.ID
    duration_seconds: int | None = strawberry.field(default=None, description="null: until unmuted")


@strawberry.type
class GroupMemberMutePayload:
    member: GroupMember


@strawberry.input
class GroupMemberUnmuteInput:
    group_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.type
class GroupMemberUnmutePayload:
    member: GroupMember


@strawberry.input
class GroupRoleSetInput:
    group_id: strawberry.ID
    user_id: strawberry.ID
    role: GroupRole = strawberry.field(description="ADMIN or MEMBER (use groupRoleTransferOwner for OWNER)")


@strawberry.type
class GroupRoleSetPayload:
    member: GroupMember


@strawberry.input
class GroupRoleTransferOwnerInput:
    group_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.type
class GroupRoleTransferOwnerPayload:
    group: Group


@strawberry.input
class GroupSettingsGetInput:
    group_id: strawberry.ID


@strawberry.type
class GroupSettingsGetPayload:
    group: Group
    settings: GroupSettings


@strawberry.input(description="Only the given fields change; an empty string clears a text field.")
class GroupSettingsUpdateInput:
    group_id: strawberry.ID
    name: str | None = None
    avatar_file_id: str | None = strawberry.field(
        default=None, description="an image uploaded with purpose GROUP_AVATAR; an empty string removes it"
    )
    description: str | None = None
    announcement: str | None = None
    join_approval: bool | None = None
    members_may_invite: bool | None = None
    members_see_profiles: bool | None = None
    forbid_forward: bool | None = None
    history_visible: bool | None = None
    max_members: int | None = strawberry.field(default=None, description="owner only; up to the server's maximum")


@strawberry.type
class GroupSettingsUpdatePayload:
    group: Group


@strawberry.input
class GroupSettingsMuteAllInput:
    group_id: strawberry.ID
    enabled: bool


@strawberry.type
class GroupSettingsMuteAllPayload:
    group: Group


@strawberry.input
class GroupApprovalListInput:
    group_id: strawberry.ID
    cursor: str | None = None
    limit: int = 50


@strawberry.type
class GroupApprovalListPayload:
    requests: list[GroupJoinRequest]
    next_cursor: str | None


@strawberry.input
class GroupApprovalHandleInput:
    group_id: strawberry.ID
    user_id: strawberry.ID
    approve: bool


@strawberry.type
class GroupApprovalHandlePayload:
    group: Group


@strawberry.input
class GroupQrcodeGetInput:
    group_id: strawberry.ID


@strawberry.type
class GroupQrcodeGetPayload:
    qrcode: GroupQrCode


@strawberry.input
class GroupQrcodeRefreshInput:
    group_id: strawberry.ID
    expires_in_seconds: int | None = strawberry.field(default=None, description="default 7 days")


@strawberry.type
class GroupQrcodeRefreshPayload:
    qrcode: GroupQrCode


@strawberry.input
class GroupJoinQrcodeInput:
    qrcode: str = strawberry.field(description="the scanned payload (privchat://group/...) or its token")
    message: str | None = None


@strawberry.type
class GroupJoinQrcodePayload:
    outcome: GroupJoinOutcome
    group_id: strawberry.ID
    group: Group | None = strawberry.field(description="null while the request waits for approval")


@strawberry.input
class AdminGroupListInput:
    query: str | None = strawberry.field(default=None, description="name prefix")
    include_dismissed: bool = False
    cursor: str | None = None
    limit: int = 50


@strawberry.type
class AdminGroupListPayload:
    groups: list[Group]
    next_cursor: str | None


@strawberry.input
class AdminGroupInfoInput:
    group_id: strawberry.ID


@strawberry.type
class AdminGroupInfoPayload:
    group: Group
    owner: User | None

    @classmethod
    def of(cls, view: GroupView, owner: UserRecord | None) -> AdminGroupInfoPayload:
        return cls(group=Group.from_view(view), owner=User.from_record(owner) if owner is not None else None)


@strawberry.input
class AdminGroupDeleteInput:
    group_id: strawberry.ID


@strawberry.input(description="Only the given fields change; an empty string clears a text field.")
class AdminGroupUpdateInput:
    group_id: strawberry.ID
    name: str | None = None
    description: str | None = None
    announcement: str | None = None
    join_approval: bool | None = None
    members_may_invite: bool | None = None
    members_see_profiles: bool | None = None
    forbid_forward: bool | None = None
    history_visible: bool | None = None
    max_members: int | None = None


@strawberry.type
class AdminGroupUpdatePayload:
    group: Group


@strawberry.input
class AdminGroupMemberAddInput:
    group_id: strawberry.ID
    user_ids: list[strawberry.ID]


@strawberry.type
class AdminGroupMemberAddPayload:
    added_user_ids: list[strawberry.ID] = strawberry.field(description="those who were not members yet")


@strawberry.input
class AdminGroupMemberRemoveInput:
    group_id: strawberry.ID
    user_id: strawberry.ID
    ban: bool = False
