"""Groups: create and dismiss, info and lists, settings, and the server administrators'
view. Membership (`members`) and joining (`joins`) live beside it; all three share one
`GroupCore`.

A group is a channel of kind "group": messages, sync, read state and history work as in
any channel. Every change runs in one transaction that first locks the group's channel
row (`store.lock_group`), so changes to one group are serialised on every node and the
member limit holds under racing joins. Each change is stored as a channel event with the
next pts (`MessagingService.append_event`), plus a system line where people expect one
(`append_system_message`), delivered after commit to those who are members once the
change is made: a removed member gets nothing of the group from then on. Users who join
or leave get `channel_added` / `channel_removed` user updates, so all their devices update
their conversation lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from app import paging
from app.accounts.tables import User
from app.channels.log import ChannelLog
from app.channels.tables import Channel
from app.contacts.policy import SocialPolicy
from app.contacts.views import Page
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import bad_input, not_found
from app.files.avatars import Avatars
from app.groups import rules, store
from app.groups.core import Group, GroupCore, group_full, name_of
from app.groups.joining import GroupJoins
from app.groups.members import GroupMembers
from app.groups.permissions import Action, Role, require
from app.groups.tables import DEFAULT_MAX_MEMBERS, GroupSettings
from app.groups.views import AddResult, GroupView
from app.principal import Principal
from app.sync.outbox import Outbox
from app.sync.updates import UserUpdates

MAX_ADMIN_QUERY = 64


@dataclass(frozen=True, slots=True)
class SettingsChanges:
    """A partial update: None leaves a field as it is; "" clears a text field."""

    name: str | None = None
    avatar_file_id: str | None = None  # "" removes the photo
    description: str | None = None
    announcement: str | None = None
    join_approval: bool | None = None
    members_may_invite: bool | None = None
    members_see_profiles: bool | None = None
    forbid_forward: bool | None = None
    history_visible: bool | None = None
    max_members: int | None = None

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


# Settings kept on the group's channel row (the rest are in group_settings).
CHANNEL_COLUMNS = {"name": "title", "avatar_file_id": "avatar_file_id"}
# Switches whose change gets a system line, as (line when on, line when off).
SWITCH_LINES: dict[str, tuple[str, str]] = {
    "join_approval": ("turned on join approval", "turned off join approval"),
    "history_visible": (
        "made earlier messages visible to new members",
        "hid earlier messages from new members",
    ),
    "forbid_forward": ("turned off forwarding of this group's messages", "allowed forwarding of messages again"),
}


class GroupService:
    def __init__(
        self,
        *,
        db: Database,
        log: ChannelLog,
        updates: UserUpdates,
        policy: SocialPolicy,
        avatars: Avatars | None = None,
    ) -> None:
        self.avatars = avatars or Avatars()
        self.core = GroupCore(db=db, log=log, updates=updates, policy=policy)
        self.members = GroupMembers(self.core)
        self.joins = GroupJoins(self.core)

    # -- group/group/* --------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        member_ids: Sequence[int],
        avatar_file_id: str | None = None,
        description: str | None = None,
    ) -> AddResult:
        """A new group owned by the caller, with those of `member_ids` whose privacy lets the
        caller add them (the others are reported as refused)."""
        me = principal.user_id
        name = rules.check_name(name)
        ids = rules.check_user_ids(member_ids, actor_id=me, field="memberIds", allow_empty=True)
        avatar = avatar_file_id.strip() or None if avatar_file_id is not None else None
        text = rules.check_description(description)
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            s = tx.session
            users = await self.core.active_users(s, [me, *ids])
            if avatar is not None:
                await self.avatars.check(s, owner_id=me, file_id=avatar, purpose="group_avatar")
            allowed = await self.core.addable(s, me, ids)
            added = [u for u in ids if u in allowed]
            if 1 + len(added) > DEFAULT_MAX_MEMBERS:
                raise group_full(DEFAULT_MAX_MEMBERS)
            channel = Channel(
                kind="group", title=name, avatar_file_id=avatar, owner_id=me, created_at=at, last_event_at=at
            )
            await store.insert_group(s, channel)
            assert channel.id is not None
            await self.avatars.replace(s, kind="group_avatar", target_id=channel.id, old=None, new=avatar)
            await store.insert_settings(s, GroupSettings(channel_id=channel.id, description=text, updated_at=at))
            group = await self.core.lock(tx, channel.id, None)
            await self.core.seat(s, group, [me], role=Role.OWNER, inviter_id=None, at=at)
            await self.core.seat(s, group, added, role=Role.MEMBER, inviter_id=me, at=at)
            await self.core.event(tx, group, "group_created", me, {"name": name, "ownerId": me, "memberIds": added})
            line = f"{users[me].display_name} created the group “{name}”"
            if added:
                line += " with " + rules.join_names([users[u].display_name for u in added])
            await self.core.line(tx, group, me, "group_created", line)
            for user_id in (me, *added):
                outbox.add(user_id, "channel_added", {"channelId": group.id, "kind": "group"})
            await outbox.flush(self.core.updates, tx)
            view = await self.core.view(s, group.id, me)
        return AddResult(view, added, [], [u for u in ids if u not in allowed])

    async def info(self, principal: Principal, group_id: int) -> GroupView:
        async with self.core.db.read() as s:
            return await self.core.view(s, (await self.core.read(s, group_id, principal.user_id)).id, principal.user_id)

    async def list_mine(self, principal: Principal, *, cursor: str | None, limit: int) -> Page[GroupView]:
        """The caller's groups, by id."""
        paging.check_limit(limit)
        after = paging.decode_ints(cursor, 1)
        now = now_ms()
        async with self.core.db.read() as s:
            rows = list(
                await store.my_groups_page(s, principal.user_id, after_id=after[0] if after else None, limit=limit + 1)
            )
            settings = await store.settings_many(s, [c.id or 0 for c, _ in rows])
        items = [GroupView(c, settings[c.id or 0], m, now) for c, m in rows[:limit]]
        return Page(items, paging.encode(items[-1].id) if len(rows) > limit and items else None)

    async def dismiss(self, principal: Principal, group_id: int) -> None:
        """The owner ends the group: every member is told and loses it from their list."""
        async with self.core.db.transaction() as tx:
            group = await self.core.lock(tx, group_id, principal.user_id)
            require(group.role, Action.DISMISS)
            await self.core.end(tx, group, actor_id=principal.user_id, reason="dismissed")

    # -- group/settings/* -----------------------------------------------------------------

    async def update_settings(self, principal: Principal, group_id: int, changes: SettingsChanges) -> GroupView:
        """Change name, avatar, description, announcement and switches (owner and admins;
        the member limit: the owner). Each change is a channel event; the announcement has
        its own event."""
        given = changes.given()
        if not given:
            raise bad_input("nothing to update: give at least one setting")
        values = _checked(given)
        me = principal.user_id
        at = now_ms()
        async with self.core.db.transaction() as tx:
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.EDIT_SETTINGS)
            if "max_members" in values:
                require(group.role, Action.SET_MEMBER_LIMIT)
                rules.check_max_members(values["max_members"], member_count=group.channel.member_count)
            return await self._apply(tx, group, me, values, at=at, actor=None)

    async def _apply(
        self, tx: Transaction, group: Group, me: int, values: dict[str, Any], *, at: int, actor: str | None
    ) -> GroupView:
        """Store the changed settings of a locked group: events and system lines by `me`
        (named `actor` in the lines when given)."""
        s = tx.session
        current = {
            **{k: getattr(group.channel, column) for k, column in CHANNEL_COLUMNS.items()},
            **{k: getattr(group.settings, k) for k in values if k not in CHANNEL_COLUMNS},
        }
        changed = {k: v for k, v in values.items() if current[k] != v}
        if "avatar_file_id" in changed:
            new_avatar = changed["avatar_file_id"]
            if new_avatar is not None:
                await self.avatars.check(s, owner_id=me, file_id=new_avatar, purpose="group_avatar")
            await self.avatars.replace(
                s, kind="group_avatar", target_id=group.id, old=current["avatar_file_id"], new=new_avatar
            )
        new_announcement = "announcement" in changed
        announcement = changed.pop("announcement", None)
        channel_values = {column: changed[k] for k, column in CHANNEL_COLUMNS.items() if k in changed}
        settings_values = {k: v for k, v in changed.items() if k not in CHANNEL_COLUMNS}
        if new_announcement:
            settings_values.update(announcement=announcement, announcement_by=me, announcement_at=at)
        if not channel_values and not settings_values:
            return await self.core.view(s, group.id, me)
        await store.update_group(s, group.id, channel_values)
        await store.update_settings(s, group.id, {**settings_values, "updated_at": at})
        if actor is None:
            actor = name_of(await store.users_by_id(s, [me]), me)
        if changed:
            payload = {"changes": {_camel(k): v for k, v in changed.items()}}
            await self.core.event(tx, group, "group_settings_changed", me, payload)
            for line in _setting_lines(actor, changed):
                await self.core.line(tx, group, me, "group_settings_changed", line)
        if new_announcement:
            await self.core.event(tx, group, "announcement_changed", me, {"text": announcement})
            verb = "updated" if announcement else "removed"
            await self.core.line(tx, group, me, "announcement_changed", f"{actor} {verb} the group announcement")
        return await self.core.view(s, group.id, me)

    async def set_mute_all(self, principal: Principal, group_id: int, *, enabled: bool) -> GroupView:
        """Mute the whole group: only the owner and admins may send while it is on."""
        me = principal.user_id
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.MUTE_ALL)
            if group.settings.mute_all != enabled:
                await store.update_settings(s, group.id, {"mute_all": enabled, "updated_at": now_ms()})
                await self.core.event(tx, group, "mute_all_changed", me, {"enabled": enabled})
                actor = name_of(await store.users_by_id(s, [me]), me)
                line = (
                    f"{actor} muted the group: only the owner and admins can send messages"
                    if enabled
                    else f"{actor} unmuted the group"
                )
                await self.core.line(tx, group, me, "mute_all_changed", line)
            return await self.core.view(s, group.id, me)

    # -- admin/group/* (authorised by the registry) ---------------------------------------

    async def admin_list(
        self, *, name_prefix: str | None, include_dismissed: bool, cursor: str | None, limit: int
    ) -> Page[GroupView]:
        paging.check_limit(limit)
        text = (name_prefix or "").strip() or None
        if text is not None and len(text) > MAX_ADMIN_QUERY:
            raise bad_input(f"query must be at most {MAX_ADMIN_QUERY} characters", field="query")
        after = paging.decode_ints(cursor, 1)
        now = now_ms()
        async with self.core.db.read() as s:
            rows = list(
                await store.all_groups_page(
                    s,
                    name_prefix=text,
                    include_dismissed=include_dismissed,
                    after_id=after[0] if after else None,
                    limit=limit + 1,
                )
            )
            settings = await store.settings_many(s, [c.id or 0 for c in rows])
        items = [GroupView(c, settings[c.id or 0], None, now) for c in rows[:limit]]
        return Page(items, paging.encode(items[-1].id) if len(rows) > limit and items else None)

    async def admin_info(self, group_id: int) -> tuple[GroupView, User | None]:
        """Any group, dismissed ones included, with its owner."""
        async with self.core.db.read() as s:
            channel = await store.get_group(s, group_id)
            settings = await store.get_settings(s, group_id) if channel is not None else None
            if channel is None or settings is None:
                raise not_found("group")
            owners = await store.users_by_id(s, [channel.owner_id] if channel.owner_id is not None else [])
        return GroupView(channel, settings, None, now_ms()), owners.get(channel.owner_id or 0)

    async def admin_update(self, group_id: int, changes: SettingsChanges, *, actor_id: int) -> GroupView:
        """Change a group's settings as a server administrator (any setting but the avatar,
        which must be a file of the one who sets it)."""
        given = changes.given()
        if not given:
            raise bad_input("nothing to update: give at least one setting")
        if "avatar_file_id" in given:
            raise bad_input("an administrator cannot set a group avatar", field="avatarFileId")
        values = _checked(given)
        async with self.core.db.transaction() as tx:
            group = await self.core.lock(tx, group_id, None)
            if "max_members" in values:
                rules.check_max_members(values["max_members"], member_count=group.channel.member_count)
            return await self._apply(tx, group, actor_id, values, at=now_ms(), actor="An administrator")

    async def admin_delete(self, group_id: int) -> None:
        """Delete a group as a server administrator: like a dismissal, without an actor."""
        async with self.core.db.transaction() as tx:
            group = await self.core.lock(tx, group_id, None)
            await self.core.end(tx, group, actor_id=None, reason="deleted")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _checked(given: dict[str, Any]) -> dict[str, Any]:
    """The given settings, validated and normalised (None for a cleared text)."""
    out = dict(given)
    if "name" in out:
        out["name"] = rules.check_name(out["name"])
    if "avatar_file_id" in out:
        out["avatar_file_id"] = out["avatar_file_id"].strip() or None
    if "description" in out:
        out["description"] = rules.check_description(out["description"])
    if "announcement" in out:
        out["announcement"] = rules.check_announcement(out["announcement"])
    return out


def _setting_lines(actor: str, changed: dict[str, Any]) -> list[str]:
    lines = []
    if "name" in changed:
        lines.append(f"{actor} renamed the group to “{changed['name']}”")
    if "avatar_file_id" in changed:
        lines.append(f"{actor} changed the group photo")
    for name, (on, off) in SWITCH_LINES.items():
        if name in changed:
            lines.append(f"{actor} {on if changed[name] else off}")
    return lines
