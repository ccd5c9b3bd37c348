"""Who may do what in a group: the one permission table (role x action), the rank rule
for acting on another member, and what an invitation becomes. Pure: no I/O
(tests/unit/test_group_permissions.py checks it as a matrix)."""

from __future__ import annotations

from enum import StrEnum

from app.errors import forbidden


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Action(StrEnum):
    VIEW = "view"  # info, settings, member list
    SPEAK_DURING_MUTE_ALL = "speak_during_mute_all"
    INVITE = "invite"  # add members at once, whatever the group's settings
    HANDLE_REQUESTS = "handle_requests"  # approval list and handle
    REMOVE_MEMBER = "remove_member"  # and ban: only members of a lower rank
    MUTE_MEMBER = "mute_member"  # only members of a lower rank
    MUTE_ALL = "mute_all"
    EDIT_SETTINGS = "edit_settings"  # name, avatar, description, announcement, switches
    SET_MEMBER_LIMIT = "set_member_limit"
    SET_ROLE = "set_role"  # appoint or dismiss admins
    TRANSFER_OWNER = "transfer_owner"
    DISMISS = "dismiss"
    MANAGE_QRCODE = "manage_qrcode"
    REVOKE_OTHERS = "revoke_others"  # recall other members' messages at any time
    MENTION_ALL = "mention_all"  # @everyone
    PIN = "pin"  # pin and unpin messages
    SEE_READ_RECEIPTS = "see_read_receipts"  # who read other members' messages
    SEE_PROFILES = "see_profiles"  # members' full profiles even when the group hides them
    LEAVE = "leave"  # the owner transfers ownership or dismisses the group instead


_STAFF = frozenset({Role.OWNER, Role.ADMIN})
_OWNER = frozenset({Role.OWNER})
_EVERYONE = frozenset(Role)

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW: _EVERYONE,
    Action.SPEAK_DURING_MUTE_ALL: _STAFF,
    Action.INVITE: _STAFF,
    Action.HANDLE_REQUESTS: _STAFF,
    Action.REMOVE_MEMBER: _STAFF,
    Action.MUTE_MEMBER: _STAFF,
    Action.MUTE_ALL: _STAFF,
    Action.EDIT_SETTINGS: _STAFF,
    Action.SET_MEMBER_LIMIT: _OWNER,
    Action.SET_ROLE: _OWNER,
    Action.TRANSFER_OWNER: _OWNER,
    Action.DISMISS: _OWNER,
    Action.MANAGE_QRCODE: _STAFF,
    Action.REVOKE_OTHERS: _STAFF,
    Action.MENTION_ALL: _STAFF,
    Action.PIN: _STAFF,
    Action.SEE_READ_RECEIPTS: _STAFF,
    Action.SEE_PROFILES: _STAFF,
    Action.LEAVE: frozenset({Role.ADMIN, Role.MEMBER}),
}

RANK: dict[Role, int] = {Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}

# Acting on another member (remove, ban, mute) also needs a higher rank than theirs.
ON_LOWER_RANK = frozenset({Action.REMOVE_MEMBER, Action.MUTE_MEMBER})

REFUSALS: dict[Action, str] = {
    Action.SPEAK_DURING_MUTE_ALL: "only the owner and admins can send messages while the group is muted",
    Action.INVITE: "only the owner and admins can add members to this group",
    Action.HANDLE_REQUESTS: "only the owner and admins can handle join requests",
    Action.REMOVE_MEMBER: "you cannot remove this member",
    Action.MUTE_MEMBER: "you cannot mute this member",
    Action.MUTE_ALL: "only the owner and admins can mute the group",
    Action.EDIT_SETTINGS: "only the owner and admins can change the group's settings",
    Action.SET_MEMBER_LIMIT: "only the owner can change the member limit",
    Action.SET_ROLE: "only the owner can appoint or dismiss admins",
    Action.TRANSFER_OWNER: "only the owner can transfer ownership",
    Action.DISMISS: "only the owner can dismiss the group",
    Action.MANAGE_QRCODE: "only the owner and admins can manage the group's QR code",
    Action.REVOKE_OTHERS: "only the owner and admins can recall others' messages",
    Action.MENTION_ALL: "only group owners and admins can mention everyone",
    Action.PIN: "only the group's owner and admins can pin messages",
    Action.SEE_READ_RECEIPTS: "only the sender (or a group admin) sees who read a message",
    Action.LEAVE: "the owner must transfer ownership or dismiss the group instead of leaving",
}


def roles_that_may(action: Action) -> frozenset[str]:
    """The stored role names allowed `action` (for checks that run inside SQL)."""
    return frozenset(role.value for role in PERMISSIONS[action])


def role_of(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        return Role.MEMBER  # an unknown stored role grants nothing extra


def may(role: Role, action: Action) -> bool:
    return role in PERMISSIONS[action]


def sees_profiles(role: Role, *, members_see_profiles: bool) -> bool:
    """Does a member see the others' full profiles, or only their names and avatars (a
    group that hides profiles shows them to its staff only)? The member list and the
    profile-change updates both ask this."""
    return members_see_profiles or may(role, Action.SEE_PROFILES)


def outranks(actor: Role, target: Role) -> bool:
    return RANK[actor] > RANK[target]


def may_act_on(actor: Role, action: Action, target: Role) -> bool:
    """May `actor` do `action` to a member whose role is `target`?"""
    return may(actor, action) and (action not in ON_LOWER_RANK or outranks(actor, target))


def require(role: Role, action: Action, target: Role | None = None) -> None:
    """FORBIDDEN unless the role may (on that target, for rank-bound actions)."""
    allowed = may(role, action) if target is None else may_act_on(role, action, target)
    if not allowed:
        raise forbidden(REFUSALS.get(action, "not allowed in this group"))


class InviteOutcome(StrEnum):
    ADD = "add"  # the invitees become members now
    REQUEST = "request"  # each invitation becomes a join request for the owner/admins
    REFUSED = "refused"


def invite_outcome(role: Role, *, members_may_invite: bool, join_approval: bool) -> InviteOutcome:
    """What `group/member/add` by this role does under the group's settings."""
    if may(role, Action.INVITE):
        return InviteOutcome.ADD
    if not members_may_invite:
        return InviteOutcome.REFUSED
    return InviteOutcome.REQUEST if join_approval else InviteOutcome.ADD


def qr_join_outcome(*, join_approval: bool) -> InviteOutcome:
    """Joining by the group's QR code: a request when approval is on."""
    return InviteOutcome.REQUEST if join_approval else InviteOutcome.ADD
