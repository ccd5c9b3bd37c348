"""account/privacy/get|update, and every decision the settings drive, checked end to end
as a table: (target's settings, how the actor relates to the target) -> outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.runtime import Services
from tests.support import factories
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient
from tests.support.social import PRIVACY_UPDATE, apply, call, set_privacy, social_updates, uid

GET = """query { accountPrivacyGet { settings {
  findByUsername findByPhone findByEmail findByQrcode addFriend friendApproval addToGroup nonFriendsMayMessage
  showOnline showReadReceipts
} } }"""
DEFAULTS = {
    "findByUsername": "EVERYONE",
    "findByPhone": "EVERYONE",
    "findByEmail": "EVERYONE",
    "findByQrcode": "EVERYONE",
    "addFriend": "EVERYONE",
    "friendApproval": True,
    "addToGroup": "EVERYONE",
    "nonFriendsMayMessage": True,
    "showOnline": "EVERYONE",
    "showReadReceipts": True,
}
SEARCH = "query($q: String!) { accountSearchQuery(input: {query: $q, limit: 10}) { results { user { id } } } }"
QR_GET = "query { userQrcodeGet { qrcode { payload } } }"
QR_RESOLVE = "query($c: String!) { userQrcodeResolve(input: {qrcode: $c}) { user { id } } }"


async def test_defaults_then_partial_updates(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    assert (await gql.data(GET, token=ann.access_token))["accountPrivacyGet"]["settings"] == DEFAULTS
    first = await set_privacy(gql, ann, findByPhone="FRIENDS", showReadReceipts=False)
    assert first == {**DEFAULTS, "findByPhone": "FRIENDS", "showReadReceipts": False}
    second = await set_privacy(gql, ann, addFriend="FRIENDS_OF_FRIENDS")
    assert second == {**first, "addFriend": "FRIENDS_OF_FRIENDS"}
    assert (await gql.data(GET, token=ann.access_token))["accountPrivacyGet"]["settings"] == second
    # every device of ann hears of each change; a no-op change is not an event
    await set_privacy(gql, ann, addFriend="FRIENDS_OF_FRIENDS")
    changes = [u for u in await social_updates(gql, ann) if u["__typename"] == "PrivacyChangedEvent"]
    assert [c["settings"]["addFriend"] for c in changes] == ["EVERYONE", "FRIENDS_OF_FRIENDS"]


async def test_bad_privacy_updates_are_refused(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    assert (await call(gql, PRIVACY_UPDATE, ann, i={})).error_code == "BAD_USER_INPUT"
    assert (await call(gql, PRIVACY_UPDATE, ann, i={"addFriend": "FRIENDS"})).error_code == "BAD_USER_INPUT"
    assert (await call(gql, PRIVACY_UPDATE, ann, i={"showOnline": "SOMETIMES"})).error_code == "BAD_USER_INPUT"
    assert (await gql.execute(PRIVACY_UPDATE, {"i": {"findByPhone": "NOBODY"}})).error_code == "UNAUTHENTICATED"
    assert (await gql.data(GET, token=ann.access_token))["accountPrivacyGet"]["settings"] == DEFAULTS


# --- the table -----------------------------------------------------------------------

Action = Callable[[Services, GraphQLClient, Account, Account], Awaitable[bool]]


async def can_apply(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    result = await apply(gql, actor, target)  # as a client does: search by username, carry the proof
    assert result.error_code in (None, "FORBIDDEN", "NOT_FOUND"), result.errors
    return result.error_code is None


async def can_find_by_username(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    results = (await gql.data(SEARCH, {"q": target.username}, token=actor.access_token))["accountSearchQuery"][
        "results"
    ]
    return uid(target) in [r["user"]["id"] for r in results]


async def can_find_by_phone(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    results = await gql.data(SEARCH, {"q": f"+4912345{target.user_id:04d}"}, token=actor.access_token)
    return uid(target) in [r["user"]["id"] for r in results["accountSearchQuery"]["results"]]


async def can_find_by_email(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    results = await gql.data(SEARCH, {"q": f"{target.username}@example.org"}, token=actor.access_token)
    return uid(target) in [r["user"]["id"] for r in results["accountSearchQuery"]["results"]]


async def can_use_qrcode(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    payload = (await gql.data(QR_GET, token=target.access_token))["userQrcodeGet"]["qrcode"]["payload"]
    result = await call(gql, QR_RESOLVE, actor, c=payload)
    assert result.error_code in (None, "NOT_FOUND"), result.errors
    return result.error_code is None


async def can_message(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    async with services.db.read() as session:
        return await services.policy.may_message(session, actor.user_id, target.user_id)


async def can_add_to_group(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    async with services.db.read() as session:
        return await services.policy.may_add_to_group(session, actor.user_id, target.user_id)


async def can_see_presence(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    async with services.db.read() as session:
        return await services.policy.may_see_presence(session, actor.user_id, target.user_id)


async def sees_read_receipts(services: Services, gql: GraphQLClient, actor: Account, target: Account) -> bool:
    async with services.db.read() as session:
        return await services.policy.shows_read_receipts(session, target.user_id)


CASES: list[tuple[str, dict[str, Any], str, Action, bool]] = [
    # settings of the target, relation of the actor, action, allowed?
    ("defaults let a stranger apply", {}, "stranger", can_apply, True),
    ("addFriend NOBODY", {"addFriend": "NOBODY"}, "stranger", can_apply, False),
    ("addFriend FOF refuses a stranger", {"addFriend": "FRIENDS_OF_FRIENDS"}, "stranger", can_apply, False),
    ("addFriend FOF admits a friend of a friend", {"addFriend": "FRIENDS_OF_FRIENDS"}, "fof", can_apply, True),
    ("username hidden: no search to apply from", {"findByUsername": "NOBODY"}, "stranger", can_apply, False),
    ("username hidden from strangers", {"findByUsername": "NOBODY"}, "stranger", can_find_by_username, False),
    ("username for friends: a friend finds", {"findByUsername": "FRIENDS"}, "friend", can_find_by_username, True),
    ("username for FOF: fof finds", {"findByUsername": "FRIENDS_OF_FRIENDS"}, "fof", can_find_by_username, True),
    (
        "username for FOF: stranger does not",
        {"findByUsername": "FRIENDS_OF_FRIENDS"},
        "stranger",
        can_find_by_username,
        False,
    ),
    ("phone open by default", {}, "stranger", can_find_by_phone, True),
    ("phone hidden", {"findByPhone": "NOBODY"}, "stranger", can_find_by_phone, False),
    ("phone for friends: fof does not", {"findByPhone": "FRIENDS"}, "fof", can_find_by_phone, False),
    ("email open by default", {}, "stranger", can_find_by_email, True),
    ("email hidden", {"findByEmail": "NOBODY"}, "friend", can_find_by_email, False),
    ("qr open by default", {}, "stranger", can_use_qrcode, True),
    ("qr for friends: stranger", {"findByQrcode": "FRIENDS"}, "stranger", can_use_qrcode, False),
    ("qr for friends: friend", {"findByQrcode": "FRIENDS"}, "friend", can_use_qrcode, True),
    ("strangers may message by default", {}, "stranger", can_message, True),
    ("non-friends closed: stranger", {"nonFriendsMayMessage": False}, "stranger", can_message, False),
    ("non-friends closed: fof", {"nonFriendsMayMessage": False}, "fof", can_message, False),
    ("non-friends closed: friend", {"nonFriendsMayMessage": False}, "friend", can_message, True),
    ("groups: anyone by default", {}, "stranger", can_add_to_group, True),
    ("groups for friends: stranger", {"addToGroup": "FRIENDS"}, "stranger", can_add_to_group, False),
    ("groups for friends: friend", {"addToGroup": "FRIENDS"}, "friend", can_add_to_group, True),
    ("groups nobody: friend", {"addToGroup": "NOBODY"}, "friend", can_add_to_group, False),
    ("presence for FOF: fof", {"showOnline": "FRIENDS_OF_FRIENDS"}, "fof", can_see_presence, True),
    ("presence for friends: fof", {"showOnline": "FRIENDS"}, "fof", can_see_presence, False),
    ("presence nobody: friend", {"showOnline": "NOBODY"}, "friend", can_see_presence, False),
    ("read receipts shown by default", {}, "stranger", sees_read_receipts, True),
    ("read receipts off", {"showReadReceipts": False}, "friend", sees_read_receipts, False),
]


@pytest.mark.parametrize(("case", "privacy", "relation", "action", "allowed"), CASES, ids=[c[0] for c in CASES])
async def test_privacy_table(
    services: Services,
    gql: GraphQLClient,
    case: str,
    privacy: dict[str, Any],
    relation: str,
    action: Action,
    allowed: bool,
) -> None:
    await factories.register(services, "target")
    target = await factories.login(services, "target")
    actor = await factories.account(services, "actor")
    middle = await factories.account(services, "middle")
    for account in (target, actor):
        await services.accounts.update_profile(
            account.principal,
            _profile(phone=f"+4912345{account.user_id:04d}", email=f"{account.username}@example.org"),
        )
    if relation == "friend":
        await services.contacts.befriend_now(actor.user_id, target.user_id)
    elif relation == "fof":
        await services.contacts.befriend_now(actor.user_id, middle.user_id)
        await services.contacts.befriend_now(middle.user_id, target.user_id)
    if privacy:
        await set_privacy(gql, target, **privacy)
    assert await action(services, gql, actor, target) is allowed, case


def _profile(**values: str) -> Any:
    from app.accounts.service import ProfileChanges

    return ProfileChanges(**values)


async def test_concurrent_updates_of_different_settings_both_stick(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    await asyncio.gather(
        set_privacy(gql, ann, findByPhone="NOBODY"),
        set_privacy(gql, ann, showOnline="FRIENDS"),
        set_privacy(gql, ann, nonFriendsMayMessage=False),
    )
    settings = (await gql.data(GET, token=ann.access_token))["accountPrivacyGet"]["settings"]
    assert settings == {**DEFAULTS, "findByPhone": "NOBODY", "showOnline": "FRIENDS", "nonFriendsMayMessage": False}
