"""What the messaging core asks of groups before a message is stored in a group
(injected into MessagingService as `group_rules`), and what revoke and forward may ask."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import store as channel_store
from app.channels.tables import Channel, ChannelMember
from app.errors import AppError, ErrorCode, not_found
from app.groups import store
from app.groups.permissions import Action, may, require, role_of
from app.groups.rules import is_muted


class GroupSendRules:
    """Stateless: one instance serves the process."""

    async def check_may_send(
        self, session: AsyncSession, channel: Channel, member: ChannelMember, now: int
    ) -> list[int]:
        """Refuse muted members, and everyone but the owner/admins while the group is muted;
        return the recipients: the active members.

        The group's row is locked first, so this send and any membership change of the
        group are ordered: a member removed before this message is neither its sender nor
        its recipient (on every node), and one removed after it received it."""
        assert channel.id is not None
        group = await store.lock_group(session, channel.id)
        fresh = await store.get_member(session, channel.id, member.user_id)
        if group is None or group.deleted_at is not None or fresh is None or fresh.left_at is not None:
            raise not_found("channel")
        if is_muted(fresh.muted_until, now):
            raise AppError(ErrorCode.FORBIDDEN, "you are muted in this group")
        settings = await store.get_settings(session, channel.id)
        if settings is not None and settings.mute_all:
            require(role_of(fresh.role), Action.SPEAK_DURING_MUTE_ALL)
        return await channel_store.active_member_ids(session, channel.id)

    def may_revoke_others(self, channel: Channel, member: ChannelMember) -> bool:
        """Owner and admins may recall any member's message in their group, at any time."""
        return channel.kind == "group" and member.left_at is None and may(role_of(member.role), Action.REVOKE_OTHERS)

    async def check_may_forward_from(self, session: AsyncSession, channel: Channel) -> None:
        """FORBIDDEN when the message's group forbids forwarding its messages."""
        if channel.kind != "group" or channel.id is None:
            return
        settings = await store.get_settings(session, channel.id)
        if settings is not None and settings.forbid_forward:
            raise AppError(ErrorCode.FORBIDDEN, "this group does not allow forwarding its messages")
