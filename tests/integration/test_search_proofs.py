"""Friend requests with source SEARCH (or PHONE) carry the proof a search handed to this
searcher for this user (`searchProof`), through both doors; anything less reads exactly
like a request to a user who does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from app.accounts.service import ProfileChanges
from app.contacts import policy as policy_module
from app.contacts.search_proofs import PROOF_TTL_SECONDS
from app.context import RequestContext
from app.errors import AppError
from app.runtime import Services
from schema.build import Api
from tests.support import factories
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient
from tests.support.social import BLOCK, FIND, apply, found_proof, set_privacy, uid

MISSING_USER = "4242424242"


async def native_apply(api: Api, services: Services, requester: Account, args: dict[str, Any]) -> Any:
    """contact/friend/apply through the by-route caller the native gateway uses."""
    ctx = RequestContext(services=services, transport="test", token=requester.access_token, ip="127.0.0.1")
    return await api.call("contact/friend/apply", ctx, args)


async def native_refusal(api: Api, services: Services, requester: Account, args: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(AppError) as refused:
        await native_apply(api, services, requester, args)
    return refused.value.code.value, refused.value.message


async def with_address(services: Services, account: Account) -> Account:
    changes = ProfileChanges(phone=f"+4915550{account.user_id:05d}", email=f"{account.username}@example.org")
    await services.accounts.update_profile(account.principal, changes)
    return account


def refusal(result: Any) -> tuple[str | None, str | None, dict[str, Any]]:
    """What a refused apply tells the requester (its path aside)."""
    error = result.errors[0] if result.errors else {}
    return result.error_code, error.get("message"), error.get("extensions", {})


async def test_a_search_proof_lets_its_searcher_apply_through_both_doors(
    api: Api, services: Services, gql: GraphQLClient
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carol = await with_address(services, await factories.account(services, "carol"))
    dave = await with_address(services, await factories.account(services, "dave"))

    # GraphQL: the proof of a search by username.
    results = (await gql.data(FIND, {"q": "bo"}, token=ann.access_token))["accountSearchQuery"]["results"]
    assert [(r["user"]["username"], r["matchedBy"]) for r in results] == [("bob", "USERNAME")]
    assert results[0]["searchProof"]
    applied = (await apply(gql, ann, bob, proof=results[0]["searchProof"])).data["contactFriendApply"]
    assert applied["outcome"] == "PENDING" and applied["request"]["source"] == "SEARCH"

    # Native door: the proof of a search by email, then of one by phone with source PHONE.
    by_email = await found_proof(gql, ann, carol, "carol@example.org")
    args = {"userId": uid(carol), "source": "SEARCH", "searchProof": by_email}
    out = await native_apply(api, services, ann, args)
    assert out["outcome"] == "PENDING" and out["request"]["source"] == "SEARCH"
    by_phone = await found_proof(gql, ann, dave, f"+4915550{dave.user_id:05d}")
    out = await native_apply(api, services, ann, {"userId": uid(dave), "source": "PHONE", "searchProof": by_phone})
    assert out["outcome"] == "PENDING" and out["request"]["source"] == "PHONE"

    # A proof can be used again until it expires (e.g. after recalling the request).
    await gql.data(
        "mutation($u: ID!) { contactFriendRecall(input: {userId: $u}) { request { id } } }",
        {"u": uid(bob)},
        token=ann.access_token,
    )
    assert (await apply(gql, ann, bob, proof=results[0]["searchProof"])).error_code is None


async def test_a_search_apply_without_its_own_valid_proof_looks_like_a_missing_user(
    api: Api, services: Services, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await factories.account(services, "ann")
    bob = await with_address(services, await factories.account(services, "bob"))
    carol = await factories.account(services, "carol")
    dave = await factories.account(services, "dave")
    missing = Account(int(MISSING_USER), "nobody", ann.access_token, "", ann.principal, "")
    expected = refusal(await apply(gql, ann, missing, search_first=False))
    assert expected[0] == "NOT_FOUND"

    own = await found_proof(gql, ann, bob)
    carols = await found_proof(gql, carol, bob)  # another searcher's proof for the same user
    for_dave = await found_proof(gql, ann, dave)  # ann's proof for another user
    forged = own[:-1] + ("A" if own[-1] != "A" else "B")
    by_username_as_phone = own.replace(".u.", ".p.")
    unproven = {
        "no proof": None,
        "an empty proof": "",
        "a forged signature": forged,
        "a proof claiming another way": by_username_as_phone,
        "not a proof at all": "sp1.x",
        "another searcher's proof": carols,
        "a proof for another user": for_dave,
    }
    for case, proof in unproven.items():
        result = await apply(gql, ann, bob, proof=proof, search_first=False)
        assert refusal(result) == expected, case
        native = await native_refusal(
            api, services, ann, {"userId": uid(bob), "source": "SEARCH", "searchProof": proof}
        )
        assert native == (expected[0], expected[1]), case
    # PHONE needs a search by phone: a username search proves SEARCH only.
    assert refusal(await apply(gql, ann, bob, source="PHONE", proof=own)) == expected
    assert (await apply(gql, ann, bob, proof="x" * 129)).error_code == "BAD_USER_INPUT"

    # Expired: a quarter of an hour later the same proof is no longer one.
    real_now = policy_module.now_ms
    monkeypatch.setattr(policy_module, "now_ms", lambda: real_now() + PROOF_TTL_SECONDS * 1000)
    assert refusal(await apply(gql, ann, bob, proof=own)) == expected
    monkeypatch.setattr(policy_module, "now_ms", real_now)

    # The target's current setting decides: hidden from username search, the proof is void...
    await set_privacy(gql, bob, findByUsername="NOBODY")
    assert refusal(await apply(gql, ann, bob, proof=own)) == expected
    # ...and so is an email search's once email is hidden too (only that way counts).
    by_email = await found_proof(gql, ann, bob, "bob@example.org")
    await set_privacy(gql, bob, findByEmail="FRIENDS")
    assert refusal(await apply(gql, ann, bob, proof=by_email)) == expected
    # Nothing was sent meanwhile; reopened, the same proof works (it was the setting, nothing else).
    assert (await gql.data(FIND, {"q": "bob"}, token=ann.access_token))["accountSearchQuery"]["results"] == []
    await set_privacy(gql, bob, findByUsername="EVERYONE")
    applied = (await apply(gql, ann, bob, proof=own)).data["contactFriendApply"]
    assert applied["outcome"] == "PENDING"


async def test_a_block_after_the_search_voids_the_proof(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    missing = Account(int(MISSING_USER), "nobody", ann.access_token, "", ann.principal, "")
    expected = refusal(await apply(gql, ann, missing, search_first=False))
    own = await found_proof(gql, ann, bob)
    await gql.data(BLOCK, {"u": uid(ann)}, token=bob.access_token)
    assert refusal(await apply(gql, ann, bob, proof=own)) == expected


async def test_an_unproven_request_tells_nothing_of_the_targets_other_settings(
    services: Services, gql: GraphQLClient
) -> None:
    """Without a proof, a user who takes no requests at all answers like a missing user;
    with one (the searcher found them), the refusal may say so."""
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    missing = Account(int(MISSING_USER), "nobody", ann.access_token, "", ann.principal, "")
    expected = refusal(await apply(gql, ann, missing, search_first=False))
    await set_privacy(gql, bob, addFriend="NOBODY")
    assert refusal(await apply(gql, ann, bob, search_first=False)) == expected
    assert (await apply(gql, ann, bob)).error_code == "FORBIDDEN"
