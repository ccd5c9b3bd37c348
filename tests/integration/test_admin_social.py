"""admin/user/* and admin/friendship/*: who may call them, and what they do."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient, GraphQLResult
from tests.support.social import ACCEPT, PENDING, apply, befriend, call, friend_ids, social_updates, uid

SERVICE_KEY = "service-key-for-tests-" + "k" * 20
CREATE_USER = """mutation($i: AdminUserCreateInput!) { adminUserCreate(input: $i) {
  user { id username displayName email phone isAdmin disabled } } }"""
LIST_USERS = "query($q: String, $l: Int!, $c: String) { adminUserList(input: {query: $q, limit: $l, cursor: $c}) { users { id username email } nextCursor } }"
USER_FRIENDS = "query($u: ID!, $l: Int!, $c: String) { adminUserFriends(input: {userId: $u, limit: $l, cursor: $c}) { friends { user { id username } source channelId } nextCursor } }"
CREATE_FRIENDSHIP = "mutation($u: ID!, $f: ID!) { adminFriendshipCreate(input: {userId: $u, friendId: $f}) { channelId friend { user { id } source } } }"
LIST_FRIENDSHIPS = "query($u: ID, $l: Int!, $c: String) { adminFriendshipList(input: {userId: $u, limit: $l, cursor: $c}) { friendships { user { id } friend { id } source } nextCursor } }"
REMOVE_FRIENDSHIP = "mutation($u: ID!, $f: ID!) { adminFriendshipRemove(input: {userId: $u, friendId: $f}) { ok } }"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(security={"service_key": SERVICE_KEY})


async def as_service(gql: GraphQLClient, query: str, key: str = SERVICE_KEY, **variables: Any) -> GraphQLResult:
    response = await gql.http.post(
        gql.path, json={"query": query, "variables": variables}, headers={"x-service-key": key}
    )
    return GraphQLResult(response.status_code, response.json())


async def test_only_admins_and_the_service_key_get_in(services: Services, gql: GraphQLClient) -> None:
    user = await factories.account(services, "ann")
    await services.accounts.register(username="boss", password=factories.PASSWORD, display_name=None, is_admin=True)
    admin = await factories.login(services, "boss")
    assert (await gql.execute(LIST_USERS, {"l": 10})).error_code == "UNAUTHENTICATED"
    assert (await gql.execute(LIST_USERS, {"l": 10}, token=user.access_token)).error_code == "FORBIDDEN"
    assert (await as_service(gql, LIST_USERS, key="wrong-key", l=10)).error_code == "UNAUTHENTICATED"
    by_admin = (await gql.data(LIST_USERS, {"l": 10}, token=admin.access_token))["adminUserList"]["users"]
    by_key = (await as_service(gql, LIST_USERS, l=10)).data["adminUserList"]["users"]
    assert [u["username"] for u in by_admin] == [u["username"] for u in by_key] == ["ann", "boss"]


async def test_create_and_list_users(services: Services, gql: GraphQLClient) -> None:
    made = await as_service(
        gql,
        CREATE_USER,
        i={"username": "dora", "password": factories.PASSWORD, "email": "Dora@Example.org", "isAdmin": True},
    )
    user = made.data["adminUserCreate"]["user"]
    assert (user["username"], user["email"], user["isAdmin"], user["disabled"]) == (
        "dora",
        "dora@example.org",
        True,
        False,
    )
    assert (
        await as_service(gql, CREATE_USER, i={"username": "DORA", "password": factories.PASSWORD})
    ).error_code == "CONFLICT"
    assert (
        await as_service(gql, CREATE_USER, i={"username": "x", "password": factories.PASSWORD})
    ).error_code == "BAD_USER_INPUT"
    assert (
        await as_service(gql, CREATE_USER, i={"username": "eve", "password": "short"})
    ).error_code == "BAD_USER_INPUT"
    for i in range(5):
        await factories.register(services, f"member{i}")
    found = (await as_service(gql, LIST_USERS, q="dora@example.org", l=10)).data["adminUserList"]["users"]
    assert [u["username"] for u in found] == ["dora"]
    seen: list[str] = []
    cursor = None
    while True:
        page = (await as_service(gql, LIST_USERS, q="MEM", l=2, c=cursor)).data["adminUserList"]
        seen += [u["username"] for u in page["users"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"member{i}" for i in range(5)]
    assert (await as_service(gql, LIST_USERS, q="100%_", l=10)).data["adminUserList"]["users"] == []
    for limit in (0, -1, 101):
        assert (await as_service(gql, LIST_USERS, l=limit)).error_code == "BAD_USER_INPUT"
    assert (await as_service(gql, LIST_USERS, q="x" * 65, l=10)).error_code == "BAD_USER_INPUT"
    assert (await as_service(gql, LIST_USERS, l=10, c="nope")).error_code == "BAD_USER_INPUT"


async def test_admin_friendships_notify_both_users(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carol = await factories.account(services, "carol")
    created = (await as_service(gql, CREATE_FRIENDSHIP, u=uid(ann), f=uid(bob))).data["adminFriendshipCreate"]
    assert created["friend"] == {"user": {"id": uid(bob)}, "source": "ADMIN"} and created["channelId"]
    assert await friend_ids(gql, ann) == [uid(bob)] and await friend_ids(gql, bob) == [uid(ann)]
    for me, other in ((ann, bob), (bob, ann)):
        added = [u for u in await social_updates(gql, me) if u["__typename"] == "FriendAddedEvent"]
        assert [(a["userId"], a["source"], a["channelId"]) for a in added] == [
            (uid(other), "ADMIN", created["channelId"])
        ]
    assert (await as_service(gql, CREATE_FRIENDSHIP, u=uid(bob), f=uid(ann))).error_code == "CONFLICT"
    assert (await as_service(gql, CREATE_FRIENDSHIP, u=uid(ann), f=uid(ann))).error_code == "BAD_USER_INPUT"
    assert (await as_service(gql, CREATE_FRIENDSHIP, u=uid(ann), f="424242")).error_code == "NOT_FOUND"

    await befriend(gql, carol, ann)
    friends = (await as_service(gql, USER_FRIENDS, u=uid(ann), l=10)).data["adminUserFriends"]["friends"]
    assert sorted((f["user"]["username"], f["source"]) for f in friends) == [("bob", "ADMIN"), ("carol", "SEARCH")]
    assert (await as_service(gql, USER_FRIENDS, u="424242", l=10)).error_code == "NOT_FOUND"
    everyone = (await as_service(gql, LIST_FRIENDSHIPS, l=10)).data["adminFriendshipList"]["friendships"]
    assert sorted((f["user"]["id"], f["friend"]["id"]) for f in everyone) == sorted(
        [tuple(sorted((uid(ann), uid(bob)), key=int)), tuple(sorted((uid(ann), uid(carol)), key=int))]
    )
    pages: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = (await as_service(gql, LIST_FRIENDSHIPS, u=uid(ann), l=1, c=cursor)).data["adminFriendshipList"]
        pages += [(f["user"]["id"], f["friend"]["id"]) for f in page["friendships"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == [(uid(ann), uid(bob)), (uid(ann), uid(carol))]

    assert (await as_service(gql, REMOVE_FRIENDSHIP, u=uid(bob), f=uid(ann))).data["adminFriendshipRemove"]["ok"]
    assert await friend_ids(gql, ann) == [uid(carol)] and await friend_ids(gql, bob) == []
    for me, other in ((ann, bob), (bob, ann)):
        removed = [u for u in await social_updates(gql, me) if u["__typename"] == "FriendRemovedEvent"]
        assert [(r["userId"], r["removedBy"]) for r in removed] == [(uid(other), None)]
    assert (await as_service(gql, REMOVE_FRIENDSHIP, u=uid(bob), f=uid(ann))).error_code == "NOT_FOUND"
    assert (await as_service(gql, REMOVE_FRIENDSHIP, u=uid(bob), f=uid(bob))).error_code == "BAD_USER_INPUT"


async def test_admin_friendship_settles_a_pending_request(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await apply(gql, ann, bob)
    await as_service(gql, CREATE_FRIENDSHIP, u=uid(bob), f=uid(ann))
    assert (await call(gql, PENDING, bob, d="INCOMING", l=10)).data["contactFriendPending"]["requests"] == []
    assert (await call(gql, ACCEPT, bob, u=uid(ann))).error_code == "CONFLICT"
