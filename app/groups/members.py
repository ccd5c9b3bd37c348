"""group/member/* and group/role/*: inviting, removing, leaving, listing, muting members,
appointing admins and handing the group over."""

from __future__ import annotations

from collections.abc import Sequence

from app import paging
from app.contacts.views import Page
from app.db import Transaction
from app.db.types import now_ms
from app.errors import bad_input
from app.groups import rules, store
from app.groups.core import Group, GroupCore, name_of
from app.groups.permissions import Action, InviteOutcome, Role, invite_outcome, may, require, role_of, sees_profiles
from app.groups.views import AddResult, GroupView, MemberView
from app.principal import Principal
from app.sync.outbox import Outbox

MAX_MEMBER_PAGE = 200


class GroupMembers:
    def __init__(self, core: GroupCore) -> None:
        self.core = core

    async def add(
        self, principal: Principal, group_id: int, user_ids: Sequence[int], *, message: str | None = None
    ) -> AddResult:
        """Invite users. The owner and admins add them at once; a plain member may invite when
        the group allows it, and under join approval each invitation becomes a join request.
        Users whose privacy does not let the caller add them are reported as refused, as
        are banned users unless the owner or an admin adds them (which lifts the ban)."""
        me = principal.user_id
        ids = rules.check_user_ids(user_ids, actor_id=me, allow_empty=False)
        note = rules.check_request_message(message)
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            outcome = invite_outcome(
                group.role,
                members_may_invite=group.settings.members_may_invite,
                join_approval=group.settings.join_approval,
            )
            if outcome is InviteOutcome.REFUSED:
                require(group.role, Action.INVITE)
            users = await self.core.active_users(s, [me, *ids])
            members = await store.active_ids_among(s, group.id, ids)
            candidates = [u for u in ids if u not in members]
            staff = may(group.role, Action.INVITE)
            banned = await store.banned_among(s, group.id, candidates)
            if not staff:
                candidates = [u for u in candidates if u not in banned]
            allowed = await self.core.addable(s, me, candidates)
            targets = [u for u in candidates if u in allowed]
            refused = [u for u in ids if u not in members and u not in targets]
            added: list[int] = []
            pending: list[int] = []
            if outcome is InviteOutcome.ADD and targets:
                await store.delete_bans(s, group.id, [u for u in targets if u in banned])
                line = f"{users[me].display_name} invited " + rules.join_names([users[u].display_name for u in targets])
                await self.core.admit(
                    tx, group, targets, actor_id=me, inviter_id=me, via="invite", line=line, outbox=outbox, at=at
                )
                added = targets
            elif outcome is InviteOutcome.REQUEST and targets:
                for user_id in targets:
                    await self.core.request(
                        tx, group, users[user_id], inviter_id=me, source="invite", message=note, outbox=outbox, at=at
                    )
                pending = targets
            await outbox.flush(self.core.updates, tx)
            view = await self.core.view(s, group.id, me)
        return AddResult(view, added, pending, refused)

    async def remove(self, principal: Principal, group_id: int, user_id: int, *, ban: bool = False) -> None:
        """Kick a member of a lower rank (owner > admin > member); with `ban` they may not
        rejoin unless the owner or an admin adds them again."""
        me = principal.user_id
        if user_id == me:
            raise bad_input("to leave a group, use group/member/leave", field="userId")
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.REMOVE_MEMBER)
            target = await self.core.member(s, group, user_id)
            require(group.role, Action.REMOVE_MEMBER, role_of(target.role))
            users = await store.users_by_id(s, [me, user_id])
            line = f"{name_of(users, me)} removed {name_of(users, user_id)}"
            await self._remove(tx, group, user_id, actor_id=me, ban=ban, line=line, outbox=outbox, at=at)

    # -- admin/group/member/* (authorised by the registry: a server administrator) --------

    async def admin_add(self, group_id: int, user_ids: Sequence[int], *, actor_id: int) -> list[int]:
        """Add users as a super-owner: no role, privacy or ban check (a ban is lifted); the
        member limit still holds. Returns those added (members already are left out)."""
        ids = rules.check_user_ids(user_ids, actor_id=actor_id, allow_empty=False)
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, None)
            users = await self.core.active_users(s, ids)
            members = await store.active_ids_among(s, group.id, ids)
            targets = [u for u in ids if u not in members]
            if targets:
                await store.delete_bans(s, group.id, targets)
                line = "An administrator added " + rules.join_names([users[u].display_name for u in targets])
                await self.core.admit(
                    tx, group, targets, actor_id=actor_id, inviter_id=None, via="admin", line=line, outbox=outbox, at=at
                )
            await outbox.flush(self.core.updates, tx)
        return targets

    async def admin_remove(self, group_id: int, user_id: int, *, actor_id: int, ban: bool) -> None:
        """Remove any member but the owner (who hands the group over or dismisses it)."""
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, None)
            target = await self.core.member(s, group, user_id)
            if role_of(target.role) is Role.OWNER:
                raise bad_input("the owner cannot be removed: delete the group instead", field="userId")
            users = await store.users_by_id(s, [user_id])
            line = f"An administrator removed {name_of(users, user_id)}"
            await self._remove(tx, group, user_id, actor_id=actor_id, ban=ban, line=line, outbox=outbox, at=at)

    async def _remove(
        self,
        tx: Transaction,
        group: Group,
        user_id: int,
        *,
        actor_id: int,
        ban: bool,
        line: str,
        outbox: Outbox,
        at: int,
    ) -> None:
        """The member leaves with a system line; a ban keeps them out; their pending requests end."""
        s = tx.session
        await self.core.depart(
            tx,
            group,
            user_id,
            kind="member_removed",
            actor_id=actor_id,
            payload={"userId": user_id, "banned": ban},
            line=line,
            reason="removed",
            outbox=outbox,
            at=at,
        )
        if ban:
            await store.insert_ban(s, group.id, user_id, by=actor_id, at=at)
        await store.settle_requests(s, group.id, [user_id], status="cancelled", by=actor_id, at=at)
        await outbox.flush(self.core.updates, tx)

    async def leave(self, principal: Principal, group_id: int) -> None:
        """Leave a group (the owner transfers ownership or dismisses it instead)."""
        me = principal.user_id
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.LEAVE)
            users = await store.users_by_id(tx.session, [me])
            await self.core.depart(
                tx,
                group,
                me,
                kind="member_left",
                actor_id=me,
                payload={"userId": me},
                line=f"{name_of(users, me)} left the group",
                reason="left",
                outbox=outbox,
                at=at,
            )
            await outbox.flush(self.core.updates, tx)

    async def list_members(
        self, principal: Principal, group_id: int, *, cursor: str | None, limit: int
    ) -> Page[MemberView]:
        """Active members by join time, with roles, mutes and inviters. When the group hides
        profiles, plain members see only names and avatars of the others."""
        paging.check_limit(limit, MAX_MEMBER_PAGE)
        after = paging.decode_ints(cursor, 2)
        now = now_ms()
        async with self.core.db.read() as s:
            group = await self.core.read(s, group_id, principal.user_id)
            rows = list(
                await store.members_page(s, group.id, after=(after[0], after[1]) if after else None, limit=limit + 1)
            )
        profiles = sees_profiles(group.role, members_see_profiles=group.settings.members_see_profiles)
        items = [MemberView(m, u, profiles or m.user_id == principal.user_id, now) for m, u in rows[:limit]]
        last = items[-1].member if len(rows) > limit and items else None
        return Page(items, paging.encode(last.joined_at, last.user_id) if last else None)

    async def mute(self, principal: Principal, group_id: int, user_id: int, *, seconds: int | None) -> MemberView:
        """Mute a member of a lower rank for `seconds` (None: until unmuted). A timed mute
        ends on its own."""
        seconds = rules.check_mute_seconds(seconds)
        at = now_ms()
        until = rules.MUTED_FOREVER if seconds is None else at + seconds * 1000
        return await self._set_mute(principal, group_id, user_id, until=until, at=at)

    async def unmute(self, principal: Principal, group_id: int, user_id: int) -> MemberView:
        return await self._set_mute(principal, group_id, user_id, until=None, at=now_ms())

    async def _set_mute(
        self, principal: Principal, group_id: int, user_id: int, *, until: int | None, at: int
    ) -> MemberView:
        me = principal.user_id
        if user_id == me:
            raise bad_input("you cannot mute or unmute yourself", field="userId")
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.MUTE_MEMBER)
            target = await self.core.member(s, group, user_id)
            require(group.role, Action.MUTE_MEMBER, role_of(target.role))
            was_muted = rules.is_muted(target.muted_until, at)
            if until is not None or was_muted:
                await store.update_member(s, group.id, user_id, {"muted_until": until})
                if until is None:
                    await self.core.event(tx, group, "member_unmuted", me, {"userId": user_id})
                else:
                    forever = until == rules.MUTED_FOREVER
                    payload = {"userId": user_id, "mutedUntil": None if forever else until, "forever": forever}
                    await self.core.event(tx, group, "member_muted", me, payload)
            target = await self.core.member(s, group, user_id)
            user = (await store.users_by_id(s, [user_id]))[user_id]
        return MemberView(target, user, True, at)

    # -- group/role/* ---------------------------------------------------------------------

    async def set_role(self, principal: Principal, group_id: int, user_id: int, role: Role) -> MemberView:
        """The owner appoints (ADMIN) or dismisses (MEMBER) an admin."""
        me = principal.user_id
        if role is Role.OWNER:
            raise bad_input("to hand the group over, use group/role/transfer_owner", field="role")
        at = now_ms()
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.SET_ROLE)
            if user_id == me:
                raise bad_input("you cannot change your own role", field="userId")
            target = await self.core.member(s, group, user_id)
            if role_of(target.role) is not role:
                await store.update_member(s, group.id, user_id, {"role": role.value})
                await self.core.event(tx, group, "member_role_changed", me, {"userId": user_id, "role": role.value})
                users = await store.users_by_id(s, [user_id])
                status = "is now an admin" if role is Role.ADMIN else "is no longer an admin"
                await self.core.line(tx, group, me, "member_role_changed", f"{name_of(users, user_id)} {status}")
            target = await self.core.member(s, group, user_id)
            user = (await store.users_by_id(s, [user_id]))[user_id]
        return MemberView(target, user, True, at)

    async def transfer_owner(self, principal: Principal, group_id: int, user_id: int) -> GroupView:
        """The owner hands the group to another member and becomes an admin."""
        me = principal.user_id
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.TRANSFER_OWNER)
            if user_id == me:
                raise bad_input("you own this group already", field="userId")
            await self.core.member(s, group, user_id)
            await store.update_member(s, group.id, user_id, {"role": Role.OWNER.value})
            await store.update_member(s, group.id, me, {"role": Role.ADMIN.value})
            await store.update_group(s, group.id, {"owner_id": user_id})
            await self.core.event(tx, group, "owner_transferred", me, {"fromUserId": me, "toUserId": user_id})
            users = await store.users_by_id(s, [user_id])
            await self.core.line(
                tx, group, me, "owner_transferred", f"{name_of(users, user_id)} is now the group owner"
            )
            return await self.core.view(s, group.id, me)
