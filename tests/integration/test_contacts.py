"""Friends through GraphQL: apply, accept, reject, recall, remove, list, pending, check,
aliases, and the notifications each step leaves in both users' update sequences."""

from __future__ import annotations

import asyncio

from app.channels import store as channel_store
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient
from tests.support.social import (
    ACCEPT,
    CHECK,
    LIST,
    PENDING,
    RECALL,
    REJECT,
    REMOVE,
    SET_ALIAS,
    apply,
    befriend,
    call,
    friend_ids,
    set_privacy,
    social_updates,
    uid,
)


async def direct_channel_id(services: Services, a: int, b: int) -> int | None:
    async with services.db.read() as session:
        channel = await channel_store.get_direct(session, channel_store.direct_key(a, b))
        return channel.id if channel else None


async def test_apply_then_accept_makes_symmetric_friends_with_a_direct_channel(
    services: Services, gql: GraphQLClient
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    applied = (await apply(gql, ann, bob, message="hi, it's Ann")).data["contactFriendApply"]
    assert applied["outcome"] == "PENDING" and applied["friend"] is None and applied["channelId"] is None
    assert applied["request"]["status"] == "PENDING" and applied["request"]["direction"] == "OUTGOING"
    assert await direct_channel_id(services, ann.user_id, bob.user_id) is None

    incoming = (await call(gql, PENDING, bob, d="INCOMING", l=10)).data["contactFriendPending"]["requests"]
    assert [(r["user"]["username"], r["message"], r["source"]) for r in incoming] == [("ann", "hi, it's Ann", "SEARCH")]
    outgoing = (await call(gql, PENDING, ann, d="OUTGOING", l=10)).data["contactFriendPending"]["requests"]
    assert [r["user"]["username"] for r in outgoing] == ["bob"]

    accepted = (await call(gql, ACCEPT, bob, u=uid(ann))).data["contactFriendAccept"]
    channel_id = accepted["channelId"]
    assert accepted["friend"]["user"] == {"id": uid(ann), "username": "ann"}
    assert str(await direct_channel_id(services, ann.user_id, bob.user_id)) == channel_id

    assert await friend_ids(gql, ann) == [uid(bob)]
    assert await friend_ids(gql, bob) == [uid(ann)]
    for me, other in ((ann, bob), (bob, ann)):
        check = (await call(gql, CHECK, me, u=uid(other))).data["contactFriendCheck"]
        assert check["isFriend"] and check["friend"]["channelId"] == channel_id
        assert check["incomingRequest"] is None and check["outgoingRequest"] is None
    assert (await call(gql, PENDING, bob, d="INCOMING", l=10)).data["contactFriendPending"]["requests"] == []

    bob_updates = await social_updates(gql, bob)
    assert [u["__typename"] for u in bob_updates] == ["FriendRequestReceivedEvent", "FriendAddedEvent"]
    received = bob_updates[0]
    assert received["user"] == {"id": uid(ann), "username": "ann", "displayName": "ann"}
    assert received["requestMessage"] == "hi, it's Ann" and received["fromUserId"] == uid(ann)
    assert bob_updates[1]["userId"] == uid(ann) and bob_updates[1]["channelId"] == channel_id
    ann_updates = await social_updates(gql, ann)
    assert [u["__typename"] for u in ann_updates] == ["FriendRequestAcceptedEvent", "FriendAddedEvent"]
    assert ann_updates[0]["user"]["username"] == "bob" and ann_updates[0]["channelId"] == channel_id
    assert ann_updates[0]["requestId"] == received["requestId"] == ann_updates[1]["requestId"]


async def test_removal_is_seen_by_both_sides_and_the_channel_stays(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel_id = await befriend(gql, ann, bob)
    assert (await call(gql, REMOVE, bob, u=uid(ann))).data["contactFriendRemove"]["ok"]
    assert await friend_ids(gql, ann) == [] and await friend_ids(gql, bob) == []
    for me, other in ((ann, bob), (bob, ann)):
        removed = [u for u in await social_updates(gql, me) if u["__typename"] == "FriendRemovedEvent"]
        assert removed == [
            {"__typename": "FriendRemovedEvent", "seq": removed[0]["seq"], "userId": uid(other), "removedBy": uid(bob)}
        ]
    assert str(await direct_channel_id(services, ann.user_id, bob.user_id)) == channel_id
    assert (await call(gql, REMOVE, ann, u=uid(bob))).error_code == "NOT_FOUND"
    # They may start over; accepting again reuses the same direct channel.
    assert await befriend(gql, bob, ann) == channel_id


async def test_crossing_requests_become_one_friendship(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    assert (await apply(gql, ann, bob)).data["contactFriendApply"]["outcome"] == "PENDING"
    crossed = (await apply(gql, bob, ann, source="QRCODE")).data["contactFriendApply"]
    assert crossed["outcome"] == "FRIENDS" and crossed["channelId"] is not None
    assert crossed["request"]["status"] == "ACCEPTED" and crossed["request"]["direction"] == "INCOMING"
    assert crossed["friend"]["source"] == "QRCODE"
    assert await friend_ids(gql, ann) == [uid(bob)] and await friend_ids(gql, bob) == [uid(ann)]
    ann_kinds = [u["__typename"] for u in await social_updates(gql, ann)]
    assert ann_kinds == ["FriendRequestAcceptedEvent", "FriendAddedEvent"]
    bob_kinds = [u["__typename"] for u in await social_updates(gql, bob)]
    assert bob_kinds == ["FriendRequestReceivedEvent", "FriendAddedEvent"]


async def test_reject_tells_the_requester_and_a_new_request_may_follow(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await apply(gql, ann, bob)
    rejected = (await call(gql, REJECT, bob, u=uid(ann))).data["contactFriendReject"]["request"]
    assert rejected["status"] == "REJECTED" and rejected["user"]["username"] == "ann"
    assert [u["__typename"] for u in await social_updates(gql, ann)] == ["FriendRequestRejectedEvent"]
    assert (await call(gql, PENDING, ann, d="OUTGOING", l=10)).data["contactFriendPending"]["requests"] == []
    late = await call(gql, ACCEPT, bob, u=uid(ann))
    assert late.error_code == "CONFLICT" and late.errors[0]["extensions"]["reason"] == "rejected"
    assert (await call(gql, REJECT, bob, u=uid(ann))).error_code == "CONFLICT"
    again = (await apply(gql, ann, bob, message="second try")).data["contactFriendApply"]
    assert again["outcome"] == "PENDING" and again["request"]["message"] == "second try"
    assert await friend_ids(gql, ann) == []


async def test_recalled_request_cannot_be_accepted(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await apply(gql, ann, bob)
    recalled = (await call(gql, RECALL, ann, u=uid(bob))).data["contactFriendRecall"]["request"]
    assert recalled["status"] == "RECALLED"
    assert [u["__typename"] for u in await social_updates(gql, bob)] == [
        "FriendRequestReceivedEvent",
        "FriendRequestRecalledEvent",
    ]
    accept = await call(gql, ACCEPT, bob, u=uid(ann))
    assert accept.error_code == "CONFLICT" and accept.errors[0]["extensions"]["reason"] == "recalled"
    assert "withdrawn" in accept.errors[0]["message"]
    assert (await call(gql, RECALL, ann, u=uid(bob))).error_code == "CONFLICT"
    assert (await call(gql, PENDING, bob, d="INCOMING", l=10)).data["contactFriendPending"]["requests"] == []
    assert await friend_ids(gql, bob) == []


async def test_bad_friend_input_gets_typed_errors(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carol = await factories.account(services, "carol")
    await befriend(gql, ann, carol)
    missing = factories.Account(424242, "ghost", "", "", ann.principal, "x")
    cases = [
        ("apply to yourself", await apply(gql, ann, ann), "BAD_USER_INPUT"),
        ("apply to a missing user", await apply(gql, ann, missing), "NOT_FOUND"),
        (
            "apply with a bad id",
            await call(gql, 'mutation { contactFriendApply(input: {userId: "x1", source: SEARCH}) { outcome } }', ann),
            "BAD_USER_INPUT",
        ),
        (
            "apply with an unknown source",
            await call(
                gql,
                "mutation($u: ID!) { contactFriendApply(input: {userId: $u, source: ADMIN}) { outcome } }",
                ann,
                u=uid(bob),
            ),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("apply with a huge message", await apply(gql, ann, bob, message="x" * 201), "BAD_USER_INPUT"),
        ("apply with a control character", await apply(gql, ann, bob, message="hi\x00"), "BAD_USER_INPUT"),
        ("apply to a friend", await apply(gql, ann, carol), "CONFLICT"),
        ("accept without a request", await call(gql, ACCEPT, bob, u=uid(ann)), "NOT_FOUND"),
        ("accept yourself", await call(gql, ACCEPT, ann, u=uid(ann)), "BAD_USER_INPUT"),
        ("reject without a request", await call(gql, REJECT, bob, u=uid(ann)), "NOT_FOUND"),
        ("recall without a request", await call(gql, RECALL, ann, u=uid(bob)), "NOT_FOUND"),
        ("remove a stranger", await call(gql, REMOVE, ann, u=uid(bob)), "NOT_FOUND"),
        ("remove a missing user", await call(gql, REMOVE, ann, u="424242"), "NOT_FOUND"),
        ("alias for a stranger", await call(gql, SET_ALIAS, ann, u=uid(bob), a="B"), "NOT_FOUND"),
        ("check a missing user", await call(gql, CHECK, ann, u="424242"), "NOT_FOUND"),
        ("no token", await gql.execute(LIST, {"l": 10}), "UNAUTHENTICATED"),
    ]
    for case, result, code in cases:
        assert result.error_code == code, (case, result.errors)
    # Applying twice: the first stands, the second is a conflict.
    assert (await apply(gql, ann, bob)).data["contactFriendApply"]["outcome"] == "PENDING"
    twice = await apply(gql, ann, bob)
    assert twice.error_code == "CONFLICT" and twice.errors[0]["extensions"]["reason"] == "pending"
    # The requester cannot accept their own request.
    assert (await call(gql, ACCEPT, ann, u=uid(bob))).error_code == "NOT_FOUND"
    # None of it produced a stray notification for bob beyond the one request.
    assert [u["__typename"] for u in await social_updates(gql, bob)] == ["FriendRequestReceivedEvent"]


async def test_lists_page_with_cursors_and_refuse_bad_limits(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    friends = [await factories.account(services, f"friend{i}") for i in range(7)]
    for friend in friends:
        await services.contacts.befriend_now(ann.user_id, friend.user_id)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = (await call(gql, LIST, ann, l=3, c=cursor)).data["contactFriendList"]
        assert len(page["friends"]) <= 3
        seen += [f["user"]["id"] for f in page["friends"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == sorted((uid(f) for f in friends), key=int)
    for limit in (0, -1, 101, 1_000_000):
        assert (await call(gql, LIST, ann, l=limit)).error_code == "BAD_USER_INPUT", limit
    for forged in ("not-a-cursor", "eyJ4IjoxfQ", "W10", "WyJhIl0", "W-1d", "x" * 300):
        assert (await call(gql, LIST, ann, l=3, c=forged)).error_code == "BAD_USER_INPUT", forged

    requesters = [await factories.account(services, f"asker{i}") for i in range(5)]
    for requester in requesters:
        await apply(gql, requester, ann)
    got: list[str] = []
    cursor = None
    while True:
        page = (await call(gql, PENDING, ann, d="INCOMING", l=2, c=cursor)).data["contactFriendPending"]
        got += [r["user"]["username"] for r in page["requests"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(got) == sorted(r.username for r in requesters) and len(got) == 5
    assert (await call(gql, PENDING, ann, d="INCOMING", l=0)).error_code == "BAD_USER_INPUT"


async def test_alias_is_private_and_synced_to_own_devices(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await befriend(gql, ann, bob)
    friend = (await call(gql, SET_ALIAS, ann, u=uid(bob), a="  Bobby ")).data["contactFriendSetAlias"]["friend"]
    assert friend["alias"] == "Bobby"
    ann_list = (await call(gql, LIST, ann, l=10)).data["contactFriendList"]["friends"]
    bob_list = (await call(gql, LIST, bob, l=10)).data["contactFriendList"]["friends"]
    assert ann_list[0]["alias"] == "Bobby" and bob_list[0]["alias"] is None
    assert [u["alias"] for u in await social_updates(gql, ann) if u["__typename"] == "FriendAliasChangedEvent"] == [
        "Bobby"
    ]
    assert not [u for u in await social_updates(gql, bob) if u["__typename"] == "FriendAliasChangedEvent"]
    assert (await call(gql, SET_ALIAS, ann, u=uid(bob), a="")).data["contactFriendSetAlias"]["friend"]["alias"] is None
    assert (await call(gql, SET_ALIAS, ann, u=uid(bob), a="x" * 65)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, SET_ALIAS, ann, u=uid(bob), a="tab\there")).error_code == "BAD_USER_INPUT"


async def test_a_user_who_needs_no_approval_becomes_a_friend_at_once(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await set_privacy(gql, bob, friendApproval=False)
    applied = (await apply(gql, ann, bob)).data["contactFriendApply"]
    assert applied["outcome"] == "FRIENDS" and applied["channelId"] and applied["request"]["status"] == "ACCEPTED"
    assert await friend_ids(gql, bob) == [uid(ann)]
    assert [u["__typename"] for u in await social_updates(gql, bob)][-1:] == ["FriendAddedEvent"]
    assert "FriendRequestReceivedEvent" not in [u["__typename"] for u in await social_updates(gql, bob)]


async def test_check_shows_pending_requests_from_each_side(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    stranger = (await call(gql, CHECK, ann, u=uid(bob))).data["contactFriendCheck"]
    assert stranger == {
        "isFriend": False,
        "blocked": False,
        "friend": None,
        "incomingRequest": None,
        "outgoingRequest": None,
    }
    await apply(gql, ann, bob, message="hello")
    mine = (await call(gql, CHECK, ann, u=uid(bob))).data["contactFriendCheck"]
    theirs = (await call(gql, CHECK, bob, u=uid(ann))).data["contactFriendCheck"]
    assert mine["outgoingRequest"]["message"] == "hello" and mine["incomingRequest"] is None
    assert theirs["incomingRequest"]["direction"] == "INCOMING" and theirs["outgoingRequest"] is None


async def test_each_device_receives_each_notification_once(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    await factories.register(services, "bob")
    phone = await factories.login(services, "bob", device_id="phone")
    laptop = await factories.login(services, "bob", device_id="laptop")
    async with services.hub.listen(phone.principal) as on_phone, services.hub.listen(laptop.principal) as on_laptop:
        await apply(gql, ann, phone)
        for listener in (on_phone, on_laptop):
            message = await asyncio.wait_for(listener.get(), 5)
            assert message["kind"] == "friend_request_received" and message["payload"]["fromUserId"] == ann.user_id
        await asyncio.sleep(0.2)  # anything duplicated would have arrived by now
        assert on_phone.pending() == 0 and on_laptop.pending() == 0
    for device in (phone, laptop):
        assert [u["__typename"] for u in await social_updates(gql, device)] == ["FriendRequestReceivedEvent"]


async def test_friend_request_sources_are_proven_not_claimed(services: Services, gql: GraphQLClient) -> None:
    """With every "find me" setting at NOBODY, a stranger's claimed GROUP source needs an
    actual shared group; SEARCH and PHONE need a search that found the user (the proof is
    checked in tests/integration/test_search_proofs.py). Unproven reads like a missing user."""
    target = await factories.account(services, "target")
    stranger = await factories.account(services, "stranger")
    member = await factories.account(services, "member")
    hidden = {"findByUsername": "NOBODY", "findByPhone": "NOBODY", "findByEmail": "NOBODY", "findByQrcode": "NOBODY"}
    await set_privacy(gql, target, **hidden)
    assert (await apply(gql, stranger, target, source="GROUP")).error_code == "NOT_FOUND"
    group = await services.groups.create(member.principal, name="Club", member_ids=[target.user_id, stranger.user_id])
    applied = (await apply(gql, stranger, target, source="GROUP")).data["contactFriendApply"]
    assert applied["outcome"] == "PENDING" and applied["request"]["source"] == "GROUP"
    # Once the stranger leaves the group, the proof is gone.
    await services.contacts.recall(stranger.principal, user_id=target.user_id)
    await services.groups.members.leave(stranger.principal, group.group.id)
    assert (await apply(gql, stranger, target, source="GROUP")).error_code == "NOT_FOUND"
    # Phone search open, but no phone to find by: no search finds the user, nothing proves SEARCH.
    await set_privacy(gql, target, findByPhone="EVERYONE")
    assert (await apply(gql, stranger, target, source="SEARCH")).error_code == "NOT_FOUND"
    assert (await apply(gql, stranger, target, source="PHONE")).error_code == "NOT_FOUND"
