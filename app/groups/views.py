"""What the group service hands back: records joined with what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.accounts.tables import User
from app.channels.tables import Channel, ChannelMember
from app.groups.permissions import Action, Role, may, role_of
from app.groups.rules import MUTED_FOREVER, QR_PREFIX, is_muted
from app.groups.tables import GroupJoinRequest, GroupSettings


@dataclass(frozen=True, slots=True)
class GroupView:
    channel: Channel
    settings: GroupSettings
    me: ChannelMember | None  # the caller's membership; None: seen by a server administrator
    now: int

    @property
    def id(self) -> int:
        assert self.channel.id is not None
        return self.channel.id

    @property
    def my_role(self) -> Role | None:
        return None if self.me is None else role_of(self.me.role)

    @property
    def muted(self) -> bool:
        """Whether the caller may not send now (muted, or the group is muted for them)."""
        if self.me is None:
            return False
        role = role_of(self.me.role)
        return is_muted(self.me.muted_until, self.now) or (
            self.settings.mute_all and not may(role, Action.SPEAK_DURING_MUTE_ALL)
        )


@dataclass(frozen=True, slots=True)
class MemberView:
    member: ChannelMember
    user: User
    profile_visible: bool  # False: only name and avatar (the group hides profiles)
    now: int

    @property
    def muted(self) -> bool:
        return is_muted(self.member.muted_until, self.now)

    @property
    def muted_until(self) -> int | None:
        """When a timed mute ends; None when not muted or muted until unmuted."""
        until = self.member.muted_until
        return until if self.muted and until != MUTED_FOREVER else None


@dataclass(frozen=True, slots=True)
class RequestView:
    request: GroupJoinRequest
    user: User


@dataclass(frozen=True, slots=True)
class AddResult:
    group: GroupView
    added: list[int]
    pending: list[int]  # invitations that became join requests
    refused: list[int]  # their privacy (or a ban) does not let the caller add them


class JoinOutcome(StrEnum):
    JOINED = "joined"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class JoinResult:
    outcome: JoinOutcome
    group_id: int
    group: GroupView | None  # None while the request waits: not a member yet


@dataclass(frozen=True, slots=True)
class QrCodeView:
    group_id: int
    token: str
    created_at: int
    expires_at: int

    @property
    def payload(self) -> str:
        return QR_PREFIX + self.token
