"""admin/group/list|info|delete: server administrators (or the service key) only."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.runtime import Services
from tests.integration.test_groups import INFO, accounts, call, create, send, uid, updates
from tests.support import factories
from tests.support.graphql import GraphQLClient, GraphQLResult

SERVICE_KEY = "service-key-for-group-tests-" + "k" * 16
ADMIN_LIST = """query($q: String, $d: Boolean!, $l: Int!, $c: String) {
  adminGroupList(input: {query: $q, includeDismissed: $d, limit: $l, cursor: $c}) {
    groups { id name memberCount ownerId myRole dismissedAt } nextCursor } }"""
ADMIN_INFO = """query($g: ID!) { adminGroupInfo(input: {groupId: $g}) {
  group { id name memberCount ownerId myRole dismissedAt settings { maxMembers } } owner { id username } } }"""
ADMIN_DELETE = "mutation($g: ID!) { adminGroupDelete(input: {groupId: $g}) { ok } }"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(security={"service_key": SERVICE_KEY})


async def as_service(gql: GraphQLClient, query: str, **variables: Any) -> GraphQLResult:
    response = await gql.http.post(
        gql.path, json={"query": query, "variables": variables}, headers={"x-service-key": SERVICE_KEY}
    )
    return GraphQLResult(response.status_code, response.json())


async def test_only_administrators_manage_groups(services: Services, gql: GraphQLClient) -> None:
    ann, bob = await accounts(services, "ann", "bob")
    gid = await create(gql, ann, [bob])
    assert (await gql.execute(ADMIN_LIST, {"d": False, "l": 10})).error_code == "UNAUTHENTICATED"
    assert (await call(gql, ADMIN_LIST, ann, d=False, l=10)).error_code == "FORBIDDEN"
    assert (await call(gql, ADMIN_INFO, ann, g=gid)).error_code == "FORBIDDEN"
    assert (await call(gql, ADMIN_DELETE, ann, g=gid)).error_code == "FORBIDDEN"
    await services.accounts.register(username="boss", password=factories.PASSWORD, display_name=None, is_admin=True)
    boss = await factories.login(services, "boss")
    listed = (await call(gql, ADMIN_LIST, boss, d=False, l=10)).data["adminGroupList"]["groups"]
    assert [(g["id"], g["memberCount"], g["myRole"]) for g in listed] == [(gid, 2, None)]


async def test_list_inspect_and_delete_groups(services: Services, gql: GraphQLClient) -> None:
    ann, bob = await accounts(services, "ann", "bob")
    ids = [await create(gql, ann, [bob], name=n) for n in ("Alpha", "alps", "Beta")]
    page = (await as_service(gql, ADMIN_LIST, q="al", d=False, l=1)).data["adminGroupList"]
    assert [g["name"] for g in page["groups"]] == ["Alpha"] and page["nextCursor"]
    page = (await as_service(gql, ADMIN_LIST, q="al", d=False, l=1, c=page["nextCursor"])).data["adminGroupList"]
    assert [g["name"] for g in page["groups"]] == ["alps"] and page["nextCursor"] is None
    assert (await as_service(gql, ADMIN_LIST, q="x" * 65, d=False, l=5)).error_code == "BAD_USER_INPUT"
    assert (await as_service(gql, ADMIN_LIST, q="%", d=False, l=5)).data["adminGroupList"]["groups"] == []
    info = (await as_service(gql, ADMIN_INFO, g=ids[2])).data["adminGroupInfo"]
    assert (info["group"]["name"], info["owner"]) == ("Beta", {"id": uid(ann), "username": "ann"})
    assert info["group"]["settings"] == {"maxMembers": 500}

    assert (await as_service(gql, ADMIN_DELETE, g=ids[2])).data["adminGroupDelete"] == {"ok": True}
    for acct in (ann, bob):
        removed = [u for u in await updates(gql, acct) if u.get("__typename") == "ChannelRemovedEvent"]
        assert [(u["channelId"], u["reason"], u["removedBy"]) for u in removed] == [(ids[2], "deleted", None)]
        assert (await call(gql, INFO, acct, g=ids[2])).error_code == "NOT_FOUND"
    assert (await send(gql, bob, ids[2], "anyone?")).error_code == "NOT_FOUND"
    remaining = (await as_service(gql, ADMIN_LIST, d=False, l=10)).data["adminGroupList"]["groups"]
    assert [g["id"] for g in remaining] == ids[:2]
    everything = (await as_service(gql, ADMIN_LIST, d=True, l=10)).data["adminGroupList"]["groups"]
    assert [g["id"] for g in everything] == ids and everything[2]["dismissedAt"] is not None
    assert (await as_service(gql, ADMIN_INFO, g=ids[2])).data["adminGroupInfo"]["group"]["dismissedAt"] is not None
    assert (await as_service(gql, ADMIN_DELETE, g=ids[2])).error_code == "NOT_FOUND"
    assert (await as_service(gql, ADMIN_INFO, g="99999999")).error_code == "NOT_FOUND"
