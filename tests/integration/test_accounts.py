"""Registration, login, refresh, logout and profiles through GraphQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient

REGISTER = """mutation($u: String!, $p: String!, $n: String) {
  accountUserRegister(input: {username: $u, password: $p, displayName: $n}) { user { id username displayName } }
}"""
LOGIN = """mutation($u: String!, $p: String!, $d: String!) {
  accountAuthLogin(input: {username: $u, password: $p, deviceId: $d, deviceName: "Pixel", platform: "android"}) {
    accessToken refreshToken expiresIn user { id username } device { deviceId current }
  }
}"""
REFRESH = """mutation($t: String!) { accountAuthRefresh(input: {refreshToken: $t}) { accessToken refreshToken expiresIn } }"""
PROFILE = "query { accountProfileGet { profile { id username displayName email isAdmin } } }"
PASSWORD = factories.PASSWORD


async def register_and_login(gql: GraphQLClient, name: str = "ann", device: str = "phone-1") -> dict:
    await gql.data(REGISTER, {"u": name, "p": PASSWORD, "n": name.title()})
    return (await gql.data(LOGIN, {"u": name, "p": PASSWORD, "d": device}))["accountAuthLogin"]


async def test_register_returns_the_user(gql: GraphQLClient) -> None:
    data = await gql.data(REGISTER, {"u": "ann", "p": PASSWORD, "n": "Ann"})
    user = data["accountUserRegister"]["user"]
    assert user["username"] == "ann" and user["displayName"] == "Ann" and int(user["id"]) > 0


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ab", PASSWORD),  # too short
        ("9lives", PASSWORD),  # must start with a letter
        ("bad name", PASSWORD),
        ("admin", PASSWORD),  # reserved
        ("x" * 40, PASSWORD),
        ("carol", "short"),
        ("carol", "password1"),  # common
        ("carol", "carol-secret-1"),  # contains the username
        ("carol", "a" * 200),
    ],
)
async def test_register_rejects_bad_usernames_and_passwords(
    gql: GraphQLClient, username: str, password: str
) -> None:
    result = await gql.execute(REGISTER, {"u": username, "p": password})
    assert result.error_code == "BAD_USER_INPUT"
    assert result.body["data"] is None


async def test_username_is_unique_case_insensitively(gql: GraphQLClient) -> None:
    await gql.data(REGISTER, {"u": "Ann", "p": PASSWORD})
    result = await gql.execute(REGISTER, {"u": "aNN", "p": PASSWORD})
    assert result.error_code == "CONFLICT"


async def test_login_returns_tokens_and_profile_needs_them(gql: GraphQLClient) -> None:
    login = await register_and_login(gql)
    assert login["expiresIn"] > 0 and login["device"] == {"deviceId": "phone-1", "current": True}
    assert (await gql.execute(PROFILE)).error_code == "UNAUTHENTICATED"
    profile = (await gql.data(PROFILE, token=login["accessToken"]))["accountProfileGet"]["profile"]
    assert profile["username"] == "ann" and profile["isAdmin"] is False


async def test_wrong_password_and_unknown_user_get_the_same_error(gql: GraphQLClient) -> None:
    await gql.data(REGISTER, {"u": "ann", "p": PASSWORD})
    wrong = await gql.execute(LOGIN, {"u": "ann", "p": "not-the-password", "d": "d1"})
    unknown = await gql.execute(LOGIN, {"u": "nobody", "p": PASSWORD, "d": "d1"})
    assert wrong.error_code == unknown.error_code == "UNAUTHENTICATED"
    assert wrong.errors[0]["message"] == unknown.errors[0]["message"]


async def test_login_attempts_are_rate_limited_per_account(settings_factory, gql: GraphQLClient) -> None:
    await gql.data(REGISTER, {"u": "ann", "p": PASSWORD})
    codes = [
        (await gql.execute(LOGIN, {"u": "ann", "p": "wrong-password-x", "d": "d1"})).error_code
        for _ in range(11)
    ]
    assert codes[:10] == ["UNAUTHENTICATED"] * 10
    assert codes[10] == "RATE_LIMITED"
    # even the right password is refused while limited
    assert (await gql.execute(LOGIN, {"u": "ann", "p": PASSWORD, "d": "d1"})).error_code == "RATE_LIMITED"


async def test_refresh_rotates_and_reuse_revokes_the_session(gql: GraphQLClient) -> None:
    login = await register_and_login(gql)
    first = (await gql.data(REFRESH, {"t": login["refreshToken"]}))["accountAuthRefresh"]
    assert first["refreshToken"] != login["refreshToken"]
    assert (await gql.execute(PROFILE, token=first["accessToken"])).error_code is None
    # the old refresh token again: theft assumed, the device session ends
    reuse = await gql.execute(REFRESH, {"t": login["refreshToken"]})
    assert reuse.error_code == "SESSION_REVOKED"
    assert (await gql.execute(PROFILE, token=first["accessToken"])).error_code == "SESSION_REVOKED"
    assert (await gql.execute(REFRESH, {"t": first["refreshToken"]})).error_code == "SESSION_REVOKED"


async def test_concurrent_refresh_with_one_token_yields_one_winner(gql: GraphQLClient) -> None:
    login = await register_and_login(gql)
    results = await asyncio.gather(*[gql.execute(REFRESH, {"t": login["refreshToken"]}) for _ in range(4)])
    winners = [r for r in results if r.error_code is None]
    assert len(winners) <= 1
    assert all(r.error_code in (None, "SESSION_REVOKED") for r in results)


async def test_unknown_refresh_token_is_refused(gql: GraphQLClient) -> None:
    assert (await gql.execute(REFRESH, {"t": "rt_forged"})).error_code == "UNAUTHENTICATED"


async def test_logout_ends_the_session(gql: GraphQLClient) -> None:
    login = await register_and_login(gql)
    token = login["accessToken"]
    assert (await gql.data("mutation { accountAuthLogout { ok } }", token=token))["accountAuthLogout"]["ok"]
    assert (await gql.execute(PROFILE, token=token)).error_code == "SESSION_REVOKED"
    assert (await gql.execute(REFRESH, {"t": login["refreshToken"]})).error_code == "SESSION_REVOKED"


async def test_profile_update_validates_and_persists(gql: GraphQLClient) -> None:
    token = (await register_and_login(gql))["accessToken"]
    update = """mutation($i: AccountProfileUpdateInput!) { accountProfileUpdate(input: $i) {
        profile { displayName bio email phone } } }"""
    data = await gql.data(
        update,
        {"i": {"displayName": "Ann B.", "bio": "hi", "email": "Ann@Example.org", "phone": "+49 170 1234567"}},
        token=token,
    )
    assert data["accountProfileUpdate"]["profile"] == {
        "displayName": "Ann B.",
        "bio": "hi",
        "email": "ann@example.org",
        "phone": "+491701234567",
    }
    for bad in (
        {"email": "not-an-email"},
        {"displayName": ""},
        {"bio": "x" * 501},
    ):
        assert (await gql.execute(update, {"i": bad}, token=token)).error_code == "BAD_USER_INPUT"
    profile = (await gql.data(PROFILE, token=token))["accountProfileGet"]["profile"]
    assert profile["displayName"] == "Ann B."


async def test_email_taken_by_another_user_is_a_conflict(gql: GraphQLClient) -> None:
    ann = (await register_and_login(gql, "ann"))["accessToken"]
    bob = (await register_and_login(gql, "bob"))["accessToken"]
    update = "mutation($e: String) { accountProfileUpdate(input: {email: $e}) { profile { email } } }"
    await gql.data(update, {"e": "x@example.org"}, token=ann)
    assert (await gql.execute(update, {"e": "x@example.org"}, token=bob)).error_code == "CONFLICT"


async def test_probing_addresses_is_throttled_per_user(gql: GraphQLClient, settings: Any) -> None:
    """Each email/phone change tells whether the address is taken: 10 an hour per user,
    whichever address and whatever the answer (600 a minute before)."""
    await register_and_login(gql, "owner")
    prober = (await register_and_login(gql, "prober"))["accessToken"]
    update = "mutation($e: String) { accountProfileUpdate(input: {email: $e}) { profile { email } } }"
    bio = 'mutation { accountProfileUpdate(input: {bio: "still fine"}) { profile { bio } } }'
    limit = int(settings.security.address_changes_per_user.split("/")[0])
    codes = [(await gql.execute(update, {"e": f"probe{n}@example.org"}, token=prober)).error_code for n in range(limit)]
    assert codes == [None] * limit
    assert (await gql.execute(update, {"e": "next@example.org"}, token=prober)).error_code == "RATE_LIMITED"
    assert (await gql.execute(bio, token=prober)).error_code is None  # other profile changes are not limited


async def test_user_detail_shows_public_fields_only(gql: GraphQLClient) -> None:
    ann = await register_and_login(gql, "ann")
    bob = await register_and_login(gql, "bob")
    q = "query($id: ID!) { accountUserDetail(input: {userId: $id}) { user { id username displayName } } }"
    data = await gql.data(q, {"id": bob["user"]["id"]}, token=ann["accessToken"])
    assert data["accountUserDetail"]["user"]["username"] == "bob"
    assert (await gql.execute(q, {"id": "999999"}, token=ann["accessToken"])).error_code == "NOT_FOUND"
    assert (await gql.execute(q, {"id": "abc"}, token=ann["accessToken"])).error_code == "BAD_USER_INPUT"


async def test_login_history_records_successes_and_failures(services: Services, gql: GraphQLClient) -> None:
    await gql.data(REGISTER, {"u": "ann", "p": PASSWORD})
    await gql.execute(LOGIN, {"u": "ann", "p": "wrong-password-x", "d": "d1"})
    token = (await gql.data(LOGIN, {"u": "ann", "p": PASSWORD, "d": "d2"}))["accountAuthLogin"]["accessToken"]
    q = "query { accountAuthLoginHistory(input: {limit: 10}) { attempts { success reason deviceId ip } } }"
    attempts = (await gql.data(q, token=token))["accountAuthLoginHistory"]["attempts"]
    assert [(a["success"], a["deviceId"]) for a in attempts] == [(True, "d2"), (False, "d1")]
    assert attempts[0]["ip"] == "127.0.0.1"
