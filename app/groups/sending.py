"""What the channel log and the messaging rules ask of groups: may this member send now
(mutes, mute-all, @everyone), recall others' messages, pin, see read receipts, and may a
group's messages be forwarded. Every answer comes from the permission table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.tables import Channel, ChannelMember
from app.errors import AppError, ErrorCode
from app.groups import store
from app.groups.permissions import Action, may, require, role_of
from app.groups.rules import is_muted


class GroupSendRules:
    """Stateless: one instance serves the process."""

    async def check_may_send(
        self, session: AsyncSession, channel: Channel, member: ChannelMember, now: int, *, mention_all: bool
    ) -> None:
        """Refuse muted members, everyone but the owner/admins while the group is muted,
        and @everyone from plain members. The channel log has locked the channel and read
        `member` under that lock: it is fresh."""
        assert channel.id is not None
        if is_muted(member.muted_until, now):
            raise AppError(ErrorCode.FORBIDDEN, "you are muted in this group")
        role = role_of(member.role)
        settings = await store.get_settings(session, channel.id)
        if settings is not None and settings.mute_all:
            require(role, Action.SPEAK_DURING_MUTE_ALL)
        if mention_all:
            require(role, Action.MENTION_ALL)

    def may_revoke_others(self, channel: Channel, member: ChannelMember) -> bool:
        """Owner and admins may recall any member's message in their group, at any time."""
        return channel.kind == "group" and member.left_at is None and may(role_of(member.role), Action.REVOKE_OTHERS)

    def may_pin(self, channel: Channel, member: ChannelMember) -> bool:
        """Either party of a direct chat; in a group, its owner and admins."""
        return channel.kind == "direct" or may(role_of(member.role), Action.PIN)

    def sees_read_receipts_of_others(self, channel: Channel, member: ChannelMember) -> bool:
        return channel.kind == "group" and may(role_of(member.role), Action.SEE_READ_RECEIPTS)

    async def check_may_forward_from(self, session: AsyncSession, channel: Channel) -> None:
        """FORBIDDEN when the message's group forbids forwarding its messages."""
        if channel.kind != "group" or channel.id is None:
            return
        settings = await store.get_settings(session, channel.id)
        if settings is not None and settings.forbid_forward:
            raise AppError(ErrorCode.FORBIDDEN, "this group does not allow forwarding its messages")
