"""The blacklist: what a blocked user can no longer do, and that they are never told."""

from __future__ import annotations

import pytest

from app.errors import AppError
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient
from tests.support.social import (
    ACCEPT,
    BLACKLIST,
    BLOCK,
    BLOCKED,
    CHECK,
    PENDING,
    REMOVE,
    UNBLOCK,
    apply,
    befriend,
    call,
    found_proof,
    friend_ids,
    set_privacy,
    social_updates,
    uid,
)

SEARCH = "query($q: String!) { accountSearchQuery(input: {query: $q, limit: 10}) { results { user { username } } } }"


async def test_a_blocked_user_gets_the_same_neutral_refusal_as_privacy_gives(
    services: Services, gql: GraphQLClient
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carol = await factories.account(services, "carol")
    dave = await factories.account(services, "dave")
    bob_found, carol_found = await found_proof(gql, ann, bob), await found_proof(gql, ann, carol)
    await call(gql, BLOCK, bob, u=uid(ann))
    await set_privacy(gql, carol, findByUsername="NOBODY")
    # Searched before: the block hides bob from ann as carol's setting hides carol.
    blocked = await apply(gql, ann, bob, proof=bob_found)
    private = await apply(gql, ann, carol, proof=carol_found)
    assert blocked.error_code == private.error_code == "NOT_FOUND"
    assert blocked.errors[0]["message"] == private.errors[0]["message"]
    assert "reason" not in blocked.errors[0]["extensions"]
    # Through a shared group (which the block does not hide) it reads like addFriend NOBODY.
    await set_privacy(gql, carol, addFriend="NOBODY")
    await services.groups.create(dave.principal, name="Club", member_ids=[ann.user_id, bob.user_id, carol.user_id])
    blocked = await apply(gql, ann, bob, source="GROUP")
    private = await apply(gql, ann, carol, source="GROUP")
    assert blocked.error_code == private.error_code == "FORBIDDEN"
    assert blocked.errors[0]["message"] == private.errors[0]["message"]
    assert "reason" not in blocked.errors[0]["extensions"]
    # Nothing of it reaches bob, and ann never hears of the block.
    assert [u["__typename"] for u in await social_updates(gql, bob)] == ["BlacklistChangedEvent"]
    assert await social_updates(gql, ann) == []


async def test_a_blocked_user_cannot_message_find_or_see_presence(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    assert len((await gql.data(SEARCH, {"q": "bob"}, token=ann.access_token))["accountSearchQuery"]["results"]) == 1
    await call(gql, BLOCK, bob, u=uid(ann))
    policy = services.policy
    async with services.db.read() as session:
        assert not await policy.may_message(session, ann.user_id, bob.user_id)
        assert not await policy.may_message(session, bob.user_id, ann.user_id)  # nor the blocker the blocked
        with pytest.raises(AppError) as refused:
            await policy.check_may_message(session, ann.user_id, bob.user_id)
        assert refused.value.code.value == "FORBIDDEN" and "block" not in refused.value.message
        assert not await policy.may_see_presence(session, ann.user_id, bob.user_id)
        assert await policy.may_see_presence(session, bob.user_id, ann.user_id)
        assert not await policy.may_apply(session, ann.user_id, bob.user_id)
        assert not await policy.may_add_to_group(session, ann.user_id, bob.user_id)
    assert (await gql.data(SEARCH, {"q": "bob"}, token=ann.access_token))["accountSearchQuery"]["results"] == []
    await call(gql, UNBLOCK, bob, u=uid(ann))
    async with services.db.read() as session:
        assert await policy.may_message(session, ann.user_id, bob.user_id)
        assert await policy.may_see_presence(session, ann.user_id, bob.user_id)


async def test_blocking_a_friend_keeps_the_friendship_but_makes_it_inert(
    services: Services, gql: GraphQLClient
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await befriend(gql, ann, bob)
    before = len(await social_updates(gql, ann))
    await call(gql, BLOCK, bob, u=uid(ann))
    assert await friend_ids(gql, ann) == [uid(bob)] and await friend_ids(gql, bob) == [uid(ann)]
    assert len(await social_updates(gql, ann)) == before  # silent towards ann
    async with services.db.read() as session:
        assert await services.policy.are_friends(session, ann.user_id, bob.user_id)
        assert not await services.policy.may_message(session, ann.user_id, bob.user_id)
        assert not await services.policy.may_see_presence(session, ann.user_id, bob.user_id)
    assert (await call(gql, CHECK, bob, u=uid(ann))).data["contactFriendCheck"]["blocked"] is True
    assert (await call(gql, CHECK, ann, u=uid(bob))).data["contactFriendCheck"]["blocked"] is False
    # the blocker may still end the friendship
    assert (await call(gql, REMOVE, bob, u=uid(ann))).error_code is None
    assert await friend_ids(gql, ann) == []


async def test_requests_around_a_block(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    # ann's pending request to bob is hidden while bob blocks her, and cannot be accepted
    await apply(gql, ann, bob)
    await call(gql, BLOCK, bob, u=uid(ann))
    assert (await call(gql, PENDING, bob, d="INCOMING", l=10)).data["contactFriendPending"]["requests"] == []
    assert (await call(gql, CHECK, bob, u=uid(ann))).data["contactFriendCheck"]["incomingRequest"] is None
    assert (await call(gql, ACCEPT, bob, u=uid(ann))).error_code == "CONFLICT"
    # bob himself must lift the block before asking ann
    own = await apply(gql, bob, ann)
    assert own.error_code == "CONFLICT" and own.errors[0]["extensions"]["reason"] == "blocked"
    # after unblocking, the request is back and can be accepted
    await call(gql, UNBLOCK, bob, u=uid(ann))
    incoming = (await call(gql, PENDING, bob, d="INCOMING", l=10)).data["contactFriendPending"]["requests"]
    assert [r["user"]["username"] for r in incoming] == ["ann"]
    assert (await call(gql, ACCEPT, bob, u=uid(ann))).error_code is None


async def test_blocking_drops_the_blockers_own_pending_request_silently(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await apply(gql, bob, ann)
    await call(gql, BLOCK, bob, u=uid(ann))
    assert (await call(gql, PENDING, ann, d="INCOMING", l=10)).data["contactFriendPending"]["requests"] == []
    assert [u["__typename"] for u in await social_updates(gql, ann)] == ["FriendRequestReceivedEvent"]
    accept = await call(gql, ACCEPT, ann, u=uid(bob))
    assert accept.error_code == "CONFLICT" and "withdrawn" in accept.errors[0]["message"]


async def test_blacklist_add_list_check_remove(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    others = [await factories.account(services, f"pest{i}") for i in range(3)]
    for other in others:
        entry = (await call(gql, BLOCK, ann, u=uid(other))).data["contactBlacklistAdd"]["entry"]
        assert entry["user"]["id"] == uid(other)
    again = await call(gql, BLOCK, ann, u=uid(others[0]))  # idempotent
    assert again.error_code is None
    names: list[str] = []
    cursor = None
    while True:
        page = (await call(gql, BLACKLIST, ann, l=2, c=cursor)).data["contactBlacklistList"]
        names += [e["user"]["username"] for e in page["entries"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(names) == ["pest0", "pest1", "pest2"]
    assert (await call(gql, BLOCKED, ann, u=uid(others[1]))).data["contactBlacklistCheck"]["blocked"] is True
    # a blocked user asking whether they are blocked learns nothing
    assert (await call(gql, BLOCKED, others[1], u=uid(ann))).data["contactBlacklistCheck"]["blocked"] is False
    await call(gql, UNBLOCK, ann, u=uid(others[1]))
    assert (await call(gql, BLOCKED, ann, u=uid(others[1]))).data["contactBlacklistCheck"]["blocked"] is False
    events = [(u["userId"], u["blocked"]) for u in await social_updates(gql, ann)]
    assert events == [(uid(o), True) for o in others] + [(uid(others[1]), False)]
    for other in others:
        assert await social_updates(gql, other) == []

    assert (await call(gql, UNBLOCK, ann, u=uid(others[1]))).error_code == "NOT_FOUND"
    assert (await call(gql, BLOCK, ann, u=uid(ann))).error_code == "BAD_USER_INPUT"
    assert (await call(gql, BLOCK, ann, u="424242")).error_code == "NOT_FOUND"
    assert (await call(gql, BLOCKED, ann, u="424242")).error_code == "NOT_FOUND"
    for limit in (0, -5, 101):
        assert (await call(gql, BLACKLIST, ann, l=limit)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, BLACKLIST, ann, l=5, c="garbage!")).error_code == "BAD_USER_INPUT"
