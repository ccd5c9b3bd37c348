"""The mechanics every group operation shares: locking and loading a group, seats and
memberships, join requests, and the channel events, system lines and user updates that
record each change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import User
from app.channels import store as channel_store
from app.channels.log import ChannelLog
from app.channels.tables import Channel, ChannelMember
from app.contacts.policy import SocialPolicy, may_add_to_group, needs_mutual_friend
from app.contacts.views import user_card
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, not_found
from app.groups import store
from app.groups.permissions import Action, Role, may, role_of
from app.groups.tables import GroupJoinRequest, GroupQrCode, GroupSettings
from app.groups.views import GroupView
from app.privacy import store as privacy_store
from app.sync.outbox import Outbox
from app.sync.updates import UserUpdates


@dataclass(slots=True)
class Group:
    """A group locked (or read) for one operation, with the caller's membership."""

    channel: Channel
    settings: GroupSettings
    me: ChannelMember | None

    @property
    def id(self) -> int:
        assert self.channel.id is not None
        return self.channel.id

    @property
    def role(self) -> Role:
        assert self.me is not None
        return role_of(self.me.role)


class GroupCore:
    def __init__(
        self, *, db: Database, log: ChannelLog, updates: UserUpdates, policy: SocialPolicy
    ) -> None:
        self.db = db
        self.log = log
        self.updates = updates
        self.policy = policy

    async def lock(self, tx: Transaction, group_id: int, user_id: int | None) -> Group:
        """Lock the group; with `user_id`, the caller must be an active member. A group the
        caller is not in is reported exactly like one that does not exist."""
        s = tx.session
        channel = await store.lock_group(s, group_id)
        return await self.load(s, channel, user_id)

    async def read(self, session: AsyncSession, group_id: int, user_id: int) -> Group:
        return await self.load(session, await store.get_group(session, group_id), user_id)

    async def load(self, session: AsyncSession, channel: Channel | None, user_id: int | None) -> Group:
        if channel is None or channel.deleted_at is not None or channel.id is None:
            raise not_found("group")
        me = None
        if user_id is not None:
            me = await store.get_member(session, channel.id, user_id)
            if me is None or me.left_at is not None:
                raise not_found("group")
        settings = await store.get_settings(session, channel.id)
        assert settings is not None, "every group has its settings row"
        return Group(channel, settings, me)

    async def view(self, session: AsyncSession, group_id: int, user_id: int) -> GroupView:
        channel = await store.get_group(session, group_id)
        settings = await store.get_settings(session, group_id)
        me = await store.get_member(session, group_id, user_id)
        assert channel is not None and settings is not None
        return GroupView(channel, settings, me, now_ms())

    async def member(self, session: AsyncSession, group: Group, user_id: int) -> ChannelMember:
        member = await store.get_member(session, group.id, user_id)
        if member is None or member.left_at is not None:
            raise not_found("member")
        return member

    async def active_users(self, session: AsyncSession, user_ids: Sequence[int]) -> dict[int, User]:
        users = await store.users_by_id(session, user_ids)
        if any(u not in users or users[u].disabled for u in user_ids):
            raise not_found("user")
        return users

    async def addable(self, session: AsyncSession, actor_id: int, targets: Sequence[int]) -> set[int]:
        """Those of `targets` whose privacy ("who may add me to groups") and blacklist let
        `actor_id` add them: the social policy's rule, with its facts read in bulk."""
        settings = await privacy_store.get_many(session, targets)
        if not settings:
            return set()
        mutual = needs_mutual_friend(*(s.add_to_group for s in settings.values()))
        facts = await self.policy.facts_many(session, actor_id, settings, mutual=mutual)
        return {u for u, s in settings.items() if may_add_to_group(s, facts[u])}

    async def seat(
        self,
        session: AsyncSession,
        group: Group,
        user_ids: Sequence[int],
        *,
        role: Role,
        inviter_id: int | None,
        at: int,
    ) -> None:
        """Take seats (or fail with the group full) and write the memberships. A newcomer
        starts read up to now; with history hidden they see only events from their join on."""
        if not user_ids:
            return
        if not await store.reserve_seats(session, group.id, len(user_ids), group.settings.max_members):
            raise group_full(group.settings.max_members)
        head = await store.current_pts(session, group.id)
        visible_from = 0 if group.settings.history_visible else head
        for user_id in user_ids:
            member = ChannelMember(
                channel_id=group.id,
                user_id=user_id,
                role=role.value,
                joined_at=at,
                visible_from_pts=visible_from,
                invited_by=inviter_id,
                read_pts=head,
            )
            await channel_store.add_member(session, member)

    async def admit(
        self,
        tx: Transaction,
        group: Group,
        user_ids: list[int],
        *,
        actor_id: int,
        inviter_id: int | None,
        via: str,
        line: str,
        outbox: Outbox,
        at: int,
    ) -> None:
        """New members join: seats, memberships, their requests settled, one event and one
        system line for everyone (newcomers included), `channel_added` for each newcomer."""
        await self.seat(tx.session, group, user_ids, role=Role.MEMBER, inviter_id=inviter_id, at=at)
        await store.settle_requests(tx.session, group.id, user_ids, status="approved", by=actor_id, at=at)
        payload = {"userIds": user_ids, "inviterId": inviter_id, "via": via}
        await self.event(tx, group, "member_joined", actor_id, payload)
        await self.line(tx, group, actor_id, "member_joined", line)
        for user_id in user_ids:
            outbox.add(user_id, "channel_added", {"channelId": group.id, "kind": "group"})

    async def depart(
        self,
        tx: Transaction,
        group: Group,
        user_id: int,
        *,
        kind: str,
        actor_id: int,
        payload: dict[str, Any],
        line: str,
        reason: str,
        outbox: Outbox,
        at: int,
    ) -> None:
        """A member leaves or is removed: the event goes to those who stay (the departing
        user's devices learn it from `channel_removed`), and nothing after it reaches them."""
        s = tx.session
        stay = [u for u in await channel_store.active_member_ids(s, group.id) if u != user_id]
        pts = await self.log.append_event(
            tx, channel_id=group.id, kind=kind, actor_id=actor_id, payload=payload, recipients=stay
        )
        await store.mark_left(s, group.id, [user_id], at=at, left_pts=pts)
        await store.release_seats(s, group.id, 1)
        await self.line(tx, group, actor_id, kind, line)
        outbox.add(
            user_id, "channel_removed", {"channelId": group.id, "kind": "group", "reason": reason, "by": actor_id}
        )

    async def end(self, tx: Transaction, group: Group, *, actor_id: int | None, reason: str) -> None:
        """Dismiss the group: a last event for all members, then every membership ends, the
        channel is marked deleted, and each member gets `channel_removed`."""
        s = tx.session
        at = now_ms()
        members = await channel_store.active_member_ids(s, group.id)
        pts = await self.log.append_event(
            tx,
            channel_id=group.id,
            kind="group_dismissed",
            actor_id=actor_id,
            payload={"reason": reason},
            recipients=members,
        )
        await store.mark_left(s, group.id, members, at=at, left_pts=pts)
        await store.update_group(s, group.id, {"deleted_at": at, "member_count": 0})
        await store.delete_qrcode(s, group.id)
        await store.cancel_pending_requests(s, group.id, by=actor_id, at=at)
        outbox = Outbox()
        for user_id in members:
            outbox.add(
                user_id, "channel_removed", {"channelId": group.id, "kind": "group", "reason": reason, "by": actor_id}
            )
        await outbox.flush(self.updates, tx)

    async def request(
        self,
        tx: Transaction,
        group: Group,
        user: User,
        *,
        inviter_id: int | None,
        source: str,
        message: str | None,
        outbox: Outbox,
        at: int,
    ) -> None:
        """File (or renew) a join request and tell the owner and admins."""
        assert user.id is not None
        request = GroupJoinRequest(
            channel_id=group.id,
            user_id=user.id,
            inviter_id=inviter_id,
            source=source,
            message=message,
            status="pending",
            created_at=at,
        )
        await store.put_request(tx.session, request)
        payload = {
            "groupId": group.id,
            "groupName": group.channel.title,
            "userId": user.id,
            "user": user_card(user),
            "inviterId": inviter_id,
            "source": source,
            "message": message,
        }
        for staff_id in await store.staff_ids(tx.session, group.id):
            outbox.add(staff_id, "group_join_request", payload)

    async def event(
        self, tx: Transaction, group: Group, kind: str, actor_id: int | None, payload: dict[str, Any]
    ) -> int:
        recipients = await channel_store.active_member_ids(tx.session, group.id)
        return await self.log.append_event(
            tx, channel_id=group.id, kind=kind, actor_id=actor_id, payload=payload, recipients=recipients
        )

    async def line(self, tx: Transaction, group: Group, actor_id: int, kind: str, text: str) -> None:
        recipients = await channel_store.active_member_ids(tx.session, group.id)
        await self.log.append_system_message(
            tx, channel_id=group.id, actor_id=actor_id, text=text, kind=kind, recipients=recipients
        )

    async def qr_usable(self, session: AsyncSession, row: GroupQrCode, at: int) -> bool:
        """Unexpired, and its maker still an owner or admin of the group."""
        if row.expires_at <= at:
            return False
        maker = await store.get_member(session, row.channel_id, row.created_by)
        return maker is not None and maker.left_at is None and may(role_of(maker.role), Action.MANAGE_QRCODE)


def group_full(limit: int) -> AppError:
    return AppError(ErrorCode.CONFLICT, f"the group is full ({limit} members)", reason="group_full")


def name_of(users: dict[int, User], user_id: int) -> str:
    user = users.get(user_id)
    return user.display_name if user is not None else "Someone"
