"""Admin user management: the rules at the edges (last admin, password reset, floods, lookups)."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient, GraphQLResult

SERVICE_KEY = "service-key-for-tests-" + "u" * 20
DELETE = "mutation($u: ID!) { adminUserDelete(input: {userId: $u}) { user { id deletedAt } } }"
DISABLE = "mutation($u: ID!) { adminUserDisable(input: {userId: $u}) { user { disabled } } }"
SET_ROLE = "mutation($u: ID!, $a: Boolean!) { adminUserSetRole(input: {userId: $u, isAdmin: $a}) { user { isAdmin } } }"
RESET = "mutation($u: ID!) { adminUserResetPassword(input: {userId: $u}) { token expiresAt } }"
USE_RESET = "mutation($t: String!, $p: String!) { accountPasswordReset(input: {token: $t, newPassword: $p}) { ok } }"
BROADCAST = "mutation($t: String!, $u: [ID!]) { adminBroadcastSend(input: {text: $t, userIds: $u}) { recipients } }"
UPDATE = """mutation($u: ID!, $e: String) { adminUserUpdate(input: {userId: $u, email: $e, displayName: "Renamed"}) {
  user { displayName email } } }"""
GET = "query($u: ID!) { adminUserGet(input: {userId: $u}) { user { username disabled } } }"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(security={"service_key": SERVICE_KEY}, system_message={"broadcast_rate": "2/hour"})


async def as_service(gql: GraphQLClient, query: str, **variables: Any) -> GraphQLResult:
    response = await gql.http.post(
        gql.path, json={"query": query, "variables": variables}, headers={"x-service-key": SERVICE_KEY}
    )
    return GraphQLResult(response.status_code, response.json())


async def test_the_last_administrator_cannot_remove_themselves(services: Services, gql: GraphQLClient) -> None:
    await services.accounts.register(username="boss", password=factories.PASSWORD, display_name=None, is_admin=True)
    boss = await factories.login(services, "boss")
    for query, variables in (
        (DELETE, {"u": str(boss.user_id)}),
        (DISABLE, {"u": str(boss.user_id)}),
        (
            SET_ROLE,
            {"u": str(boss.user_id), "a": False},
        ),
    ):
        refused = await gql.execute(query, variables, token=boss.access_token)
        assert refused.error_code == "CONFLICT", query
    # Nothing half-done: still an enabled admin with a working session.
    got = await gql.data(GET, {"u": str(boss.user_id)}, token=boss.access_token)
    assert got["adminUserGet"]["user"] == {"username": "boss", "disabled": False}
    # With a second admin, the first may step down.
    await services.accounts.register(username="deputy", password=factories.PASSWORD, display_name=None, is_admin=True)
    demoted = await gql.data(SET_ROLE, {"u": str(boss.user_id), "a": False}, token=boss.access_token)
    assert demoted["adminUserSetRole"]["user"]["isAdmin"] is False


async def test_password_reset_token_works_once_and_ends_sessions(services: Services, gql: GraphQLClient) -> None:
    ann_id = await factories.register(services, "ann")
    ann = await factories.login(services, "ann")
    token = (await as_service(gql, RESET, u=str(ann_id))).data["adminUserResetPassword"]["token"]
    assert (await gql.execute(USE_RESET, {"t": token, "p": "short"})).error_code == "BAD_USER_INPUT"
    assert (await gql.data(USE_RESET, {"t": token, "p": "a-brand-new-password-2"}))["accountPasswordReset"]["ok"]
    assert (await gql.execute(USE_RESET, {"t": token, "p": "another-password-3"})).error_code == "UNAUTHENTICATED"
    assert (await gql.execute(GET, {"u": str(ann_id)}, token=ann.access_token)).error_code == "SESSION_REVOKED"
    result = await services.accounts.login(
        username="ann",
        password="a-brand-new-password-2",
        device_id="d2",
        device_name="d2",
        platform="web",
        ip=None,
        user_agent=None,
    )
    assert result.user.id == ann_id
    # A newer token replaces an older unused one.
    first = (await as_service(gql, RESET, u=str(ann_id))).data["adminUserResetPassword"]["token"]
    await as_service(gql, RESET, u=str(ann_id))
    assert (await gql.execute(USE_RESET, {"t": first, "p": "x-password-4567"})).error_code == "UNAUTHENTICATED"


async def test_broadcast_floods_are_limited(services: Services, gql: GraphQLClient) -> None:
    ann_id = await factories.register(services, "ann")
    for _ in range(2):
        assert (await as_service(gql, BROADCAST, t="notice", u=[str(ann_id)])).data["adminBroadcastSend"][
            "recipients"
        ] == 1
    assert (await as_service(gql, BROADCAST, t="notice", u=[str(ann_id)])).error_code == "RATE_LIMITED"
    assert (await as_service(gql, BROADCAST, t="  ", u=[str(ann_id)])).error_code == "BAD_USER_INPUT"


async def test_update_checks_values_and_conflicts(services: Services, gql: GraphQLClient) -> None:
    ann_id = await factories.register(services, "ann")
    bob_id = await factories.register(services, "bob")
    done = await as_service(gql, UPDATE, u=str(ann_id), e="Ann@Example.org")
    assert done.data["adminUserUpdate"]["user"] == {"displayName": "Renamed", "email": "ann@example.org"}
    assert (await as_service(gql, UPDATE, u=str(bob_id), e="ann@example.org")).error_code == "CONFLICT"
    assert (await as_service(gql, UPDATE, u=str(bob_id), e="not-an-email")).error_code == "BAD_USER_INPUT"
    assert (await as_service(gql, GET, u="99999999")).error_code == "NOT_FOUND"
    assert (await as_service(gql, GET, u="abc")).error_code == "BAD_USER_INPUT"


HISTORY = """query($c: ID!) { messageHistoryGet(input: {channelId: $c, limit: 10}) {
  messages { senderId content { ... on TextContent { text } } } } }"""
CHANNELS = "query { channelList(input: {limit: 20}) { conversations { channel { id } } } }"


async def texts_of(gql: GraphQLClient, token: str) -> list[str]:
    out = []
    for entry in (await gql.data(CHANNELS, token=token))["channelList"]["conversations"]:
        history = await gql.data(HISTORY, {"c": entry["channel"]["id"]}, token=token)
        out += [m["content"]["text"] for m in history["messageHistoryGet"]["messages"] if m["content"]]
    return out


async def test_broadcast_to_everyone_reaches_each_user_once(services: Services, gql: GraphQLClient) -> None:
    import asyncio

    names = [f"user{i}" for i in range(5)]
    for name in names:
        await factories.register(services, name)
    disabled = await factories.register(services, "gone")
    await services.admin_users.set_disabled(disabled, True)
    sent = await as_service(gql, BROADCAST, t="maintenance tonight", u=None)
    assert sent.data["adminBroadcastSend"]["recipients"] == 5
    await asyncio.gather(*list(services.notices._tasks))
    for name in names:
        account = await factories.login(services, name)
        assert (await texts_of(gql, account.access_token)).count("maintenance tonight") == 1


async def test_welcome_is_sent_once_and_templated(services: Services, gql: GraphQLClient) -> None:
    services.settings.system_message.welcome_enabled = True
    services.settings.system_message.welcome_text = "Hi {display_name} ({username})"
    user = await services.accounts.register(username="newbie", password=factories.PASSWORD, display_name="New Bie")
    await services.notices.welcome(user)  # a retry sends nothing more
    account = await factories.login(services, "newbie")
    assert await texts_of(gql, account.access_token) == ["Hi New Bie (newbie)"]


async def test_deleting_twice_finishes_the_erasure_and_keeps_the_first_time(
    services: Services, gql: GraphQLClient
) -> None:
    ann_id = await factories.register(services, "ann")
    first = (await as_service(gql, DELETE, u=str(ann_id))).data["adminUserDelete"]["user"]
    again = (await as_service(gql, DELETE, u=str(ann_id))).data["adminUserDelete"]["user"]
    assert first == again and first["deletedAt"] is not None
    assert (await as_service(gql, DISABLE, u=str(ann_id))).error_code == "NOT_FOUND"
