"""A user's new name, photo or bio reaches everyone who sees the profile (friends, members of
shared active groups, the user's own devices) as a `UserProfileChangedEvent` user update,
with only what each of them may see, in a bounded number of statements. (Live delivery on
both doors: tests/integration/test_profile_changes_live.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.accounts.service import ProfileChanges
from app.admin.users import DELETED_NAME, UserChanges
from app.contacts.profiles import PROFILE_CHANGED
from app.groups.service import SettingsChanges
from app.runtime import Services
from tests.support import factories
from tests.support import files as media
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient
from tests.support.roundtrips import database_round_trips
from tests.support.social import searched

UPDATES = """query($s: Int!) { syncGetUpdates(input: {since: $s, limit: 100}) { seq updates {
  __typename ... on UserUpdateEvent { seq }
  ... on UserProfileChangedEvent { userId displayName avatarFileId profile { id username displayName avatarFileId bio } }
} } }"""


async def befriend(services: Services, a: Account, b: Account) -> None:
    proof = await searched(services, a, b)
    await services.contacts.apply(a.principal, user_id=b.user_id, message=None, source="search", search_proof=proof)
    await services.contacts.accept(b.principal, user_id=a.user_id)


async def group(services: Services, owner: Account, members: list[Account], *, profiles: bool = True) -> int:
    created = await services.groups.create(owner.principal, name="g", member_ids=[m.user_id for m in members])
    assert created.group.channel.id is not None and not created.refused
    if not profiles:
        await services.groups.update_settings(
            owner.principal, created.group.channel.id, SettingsChanges(members_see_profiles=False)
        )
    return created.group.channel.id


async def profile_updates(services: Services, who: Account) -> list[dict[str, Any]]:
    page = await services.updates.get_since(who.principal, since=0, limit=500)
    return [u.payload for u in page.updates if u.kind == PROFILE_CHANGED]


async def heads(services: Services, *accounts: Account) -> list[int]:
    return [await services.updates.head(a.user_id) for a in accounts]


async def rename(services: Services, who: Account, name: str) -> None:
    await services.accounts.update_profile(who.principal, ProfileChanges(display_name=name))


async def test_friends_and_members_of_shared_groups_are_told_and_nobody_else(services: Services) -> None:
    ann, bob, carol, dave, erin, fred = [await factories.account(services, n) for n in
                                         ("ann", "bob", "carol", "dave", "erin", "fred")]
    await befriend(services, ann, bob)
    await group(services, ann, [bob, carol])  # bob is both a friend and a member: told once
    left = await group(services, erin, [ann, fred])
    await services.groups.members.leave(fred.principal, left)  # fred no longer shares a group
    dismissed = await group(services, dave, [ann])
    await services.groups.dismiss(dave.principal, dismissed)
    await services.accounts.update_profile(ann.principal, ProfileChanges(display_name="Ann B", bio="hello"))

    card = {"id": ann.user_id, "username": "ann", "displayName": "Ann B", "avatarFileId": None, "bio": "hello"}
    told = {"userId": ann.user_id, "displayName": "Ann B", "avatarFileId": None, "profile": card}
    for who in (ann, bob, carol, erin):
        assert await profile_updates(services, who) == [told], who.username
    for who in (dave, fred):  # a dismissed group and a group one left are not shared any more
        assert await profile_updates(services, who) == [], who.username


async def test_a_group_that_hides_profiles_shows_its_members_only_the_name_and_photo(services: Services) -> None:
    ann, owner, carol, bob = [await factories.account(services, n) for n in ("ann", "owner", "carol", "bob")]
    await befriend(services, ann, bob)
    hidden = await group(services, owner, [ann, carol, bob], profiles=False)
    assert hidden
    avatar = await media.upload(services, ann, media.png(), mime="image/png", purpose="user_avatar")
    await services.accounts.update_profile(ann.principal, ProfileChanges(avatar_file_id=avatar.id))

    (to_carol,) = await profile_updates(services, carol)
    assert to_carol == {"userId": ann.user_id, "displayName": "ann", "avatarFileId": avatar.id}  # no username, no bio
    (to_owner,) = await profile_updates(services, owner)  # the staff sees profiles (the member list's rule)
    (to_bob,) = await profile_updates(services, bob)  # a friend sees the full card whatever the group says
    assert to_owner["profile"]["avatarFileId"] == to_bob["profile"]["avatarFileId"] == avatar.id

    # A new bio is visible only to those who see the full profile: carol is not told at all.
    before = await heads(services, carol)
    await services.accounts.update_profile(ann.principal, ProfileChanges(bio="new bio"))
    assert await heads(services, carol) == before
    assert (await profile_updates(services, bob))[-1]["profile"]["bio"] == "new bio"
    assert (await profile_updates(services, owner))[-1]["profile"]["bio"] == "new bio"


async def test_a_stranger_in_a_direct_chat_is_told_the_name_and_photo_only(services: Services) -> None:
    ann, stranger, friend, nobody = [await factories.account(services, n) for n in ("ann", "str", "frd", "nob")]
    await factories.direct_channel(services, stranger, ann)  # a chat, no friendship
    await befriend(services, ann, friend)
    await factories.direct_channel(services, friend, ann)  # a friend with a chat: told once, the full card
    await rename(services, ann, "Ann C")
    assert await profile_updates(services, stranger) == [{"userId": ann.user_id, "displayName": "Ann C", "avatarFileId": None}]
    (to_friend,) = await profile_updates(services, friend)
    assert to_friend["profile"]["username"] == "ann"
    assert await profile_updates(services, nobody) == []
    # A new bio is not the stranger's to see: not told at all.
    before = await heads(services, stranger)
    await services.accounts.update_profile(ann.principal, ProfileChanges(bio="only friends"))
    assert await heads(services, stranger) == before
    assert (await profile_updates(services, friend))[-1]["profile"]["bio"] == "only friends"


async def test_a_change_nobody_else_can_see_sends_nothing(services: Services) -> None:
    ann, bob = await factories.account(services, "ann"), await factories.account(services, "bob")
    await befriend(services, ann, bob)
    before = await heads(services, ann, bob)
    await services.accounts.update_profile(ann.principal, ProfileChanges(display_name="ann"))  # the same name
    await services.accounts.update_profile(ann.principal, ProfileChanges(email="ann@example.com"))  # private
    await services.accounts.update_profile(ann.principal, ProfileChanges(avatar_file_id=""))  # had none
    assert await heads(services, ann, bob) == before


async def test_an_administrator_changing_or_deleting_a_user_is_announced(services: Services) -> None:
    ann, bob = await factories.account(services, "ann"), await factories.account(services, "bob")
    await befriend(services, ann, bob)
    avatar = await media.upload(services, ann, media.png(), mime="image/png", purpose="user_avatar")
    await services.accounts.update_profile(ann.principal, ProfileChanges(avatar_file_id=avatar.id))
    await services.admin_users.update(ann.user_id, UserChanges(display_name="Ann (by admin)"))
    assert (await profile_updates(services, bob))[-1]["displayName"] == "Ann (by admin)"

    admin = await factories.account(services, "operator")
    await services.admin_users.delete(ann.user_id, actor_id=admin.user_id)
    last = (await profile_updates(services, bob))[-1]
    assert (last["displayName"], last["avatarFileId"]) == (DELETED_NAME, None)
    assert last["profile"]["username"] == f"deleted_{ann.user_id}" and last["profile"]["bio"] is None
    assert (await services.admin_users.get(ann.user_id)).avatar_file_id is None
    before = await heads(services, bob)
    await services.admin_users.delete(ann.user_id, actor_id=admin.user_id)  # again: nothing new to tell
    assert await heads(services, bob) == before


async def test_an_offline_device_gets_the_change_from_sync_get_updates(services: Services, gql: GraphQLClient) -> None:
    ann, bob = await factories.account(services, "ann"), await factories.account(services, "bob")
    await befriend(services, ann, bob)
    since = await services.updates.head(bob.user_id)
    changed = await gql.execute(
        'mutation { accountProfileUpdate(input: {displayName: "Annie"}) { profile { displayName } } }',
        token=ann.access_token,
    )
    assert changed.error_code is None
    result = await gql.execute(UPDATES, {"s": since}, token=bob.access_token)
    (update,) = result.body["data"]["syncGetUpdates"]["updates"]
    assert update["__typename"] == "UserProfileChangedEvent" and update["seq"] == since + 1
    assert (update["userId"], update["displayName"], update["profile"]["username"]) == (str(ann.user_id), "Annie", "ann")


async def test_the_fan_out_costs_the_same_statements_and_one_bus_message_for_two_or_sixty_recipients(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[str] = []
    publish = services.bus.publish

    async def counting(topic: str, message: Any) -> None:
        published.append(topic)
        await publish(topic, message)

    monkeypatch.setattr(services.bus, "publish", counting)

    async def cost_of(recipients: int) -> tuple[int, int]:
        user = await factories.account(services)
        others = [await factories.account(services) for _ in range(recipients)]
        await befriend(services, user, others[0])
        await group(services, user, others[1:])
        published.clear()
        with database_round_trips(services) as trips:
            await rename(services, user, f"renamed {recipients}")
        assert len(await profile_updates(services, others[-1])) == 1
        return trips.total, len(published)

    small, large = await cost_of(2), await cost_of(60)
    assert small == large == (large[0], 1), (small, large)
    # BEGIN, lock the row, SAVEPOINT + UPDATE + RELEASE, re-read, the audience, seqs, updates, COMMIT.
    assert large[0] <= 10, large


async def test_updates_delivered_together_reach_each_listener_and_a_damaged_bus_message_harms_nothing(
    services: Services,
) -> None:
    from app.events import DELIVER_TOPIC

    ann, bob = await factories.account(services, "ann"), await factories.account(services, "bob")
    async with services.hub.listen(ann.principal) as ann_feed, services.hub.listen(bob.principal) as bob_feed:
        await services.bus.publish(DELIVER_TOPIC, {"each": [[ann.user_id]], "t": 0.0})  # not a (user, item) pair
        await services.bus.publish(DELIVER_TOPIC, {"each": 7, "t": 0.0})
        first, second = {"type": "test_marker", "n": 1}, {"type": "test_marker", "n": 2}
        await services.hub.deliver_each([(ann.user_id, first), (bob.user_id, second)])
        async with asyncio.timeout(10):
            assert (await ann_feed.get(), await bob_feed.get()) == (first, second)
        assert ann_feed.pending() == bob_feed.pending() == 0
