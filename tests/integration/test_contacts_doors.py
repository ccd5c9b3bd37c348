"""The social routes answer the same through both doors: GraphQL and the by-route caller
the native gateway uses (same inputs, enums included; same outputs; same error codes)."""

from __future__ import annotations

from typing import Any

from app.context import RequestContext
from app.errors import AppError
from app.runtime import Services
from schema.build import Api
from tests.support import factories
from tests.support.graphql import GraphQLClient
from tests.support.selection import operation_for
from tests.support.social import befriend, found_proof, searched, uid


async def graphql_door(api: Api, gql: GraphQLClient, route: str, args: dict[str, Any] | None, token: str) -> Any:
    op = api.registry.get(route)
    document = operation_for(api.schema._schema, op.kind.value, op.field_name, op.input_type is not None)
    result = await gql.execute(document, {"input": args} if op.input_type is not None else None, token=token)
    return (result.body["data"] or {}).get(op.field_name) if result.body.get("data") else None, result.error_code


async def native_door(api: Api, services: Services, route: str, args: dict[str, Any] | None, token: str) -> Any:
    ctx = RequestContext(services=services, transport="test", token=token, ip="127.0.0.1")
    try:
        return await api.call(route, ctx, args), None
    except AppError as exc:
        return None, exc.code.value


async def test_social_reads_are_the_same_through_both_doors(api: Api, services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carol = await factories.account(services, "carol")
    await befriend(gql, ann, bob)
    proof = await searched(services, carol, ann)
    await services.contacts.apply(
        carol.principal, user_id=ann.user_id, message="hey", source="search", search_proof=proof
    )
    reads: list[tuple[str, dict[str, Any] | None]] = [
        ("contact/friend/list", {"limit": 10}),
        ("contact/friend/pending", {"direction": "INCOMING", "limit": 10}),
        ("contact/friend/pending", {}),
        ("contact/friend/check", {"userId": uid(carol)}),
        ("contact/blacklist/list", {}),
        ("contact/blacklist/check", {"userId": uid(bob)}),
        ("account/privacy/get", None),
        ("account/search/query", {"query": "bo"}),
        ("user/qrcode/get", None),
    ]
    for route, args in reads:
        via_graphql, graphql_code = await graphql_door(api, gql, route, args, ann.access_token)
        via_native, native_code = await native_door(api, services, route, args, ann.access_token)
        assert graphql_code is None and native_code is None, (route, graphql_code, native_code)
        assert without_proofs(via_graphql) == without_proofs(via_native), route


def without_proofs(value: Any) -> Any:
    """Search proofs carry their issue time (to the second): equal in all but that."""
    if isinstance(value, dict):
        assert value.get("searchProof", "-") != "", value
        return {k: without_proofs(v) for k, v in value.items() if k != "searchProof"}
    if isinstance(value, list):
        return [without_proofs(v) for v in value]
    return value


async def test_social_writes_and_errors_agree_across_doors(api: Api, services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carol = await factories.account(services, "carol")
    to_bob = {"userId": uid(bob), "source": "SEARCH", "searchProof": await found_proof(gql, ann, bob)}
    to_carol = {"userId": uid(carol), "source": "SEARCH", "searchProof": await found_proof(gql, ann, carol)}
    by_graphql, _ = await graphql_door(api, gql, "contact/friend/apply", to_bob, ann.access_token)
    by_native, _ = await native_door(api, services, "contact/friend/apply", to_carol, ann.access_token)
    assert by_graphql["outcome"] == by_native["outcome"] == "PENDING"
    assert by_graphql["request"]["source"] == by_native["request"]["source"] == "SEARCH"
    assert by_graphql.keys() == by_native.keys()
    privacy = {"showOnline": "FRIENDS", "friendApproval": False}
    first, _ = await graphql_door(api, gql, "account/privacy/update", privacy, ann.access_token)
    second, _ = await native_door(api, services, "account/privacy/update", privacy, ann.access_token)
    assert first == second and first["settings"]["showOnline"] == "FRIENDS"
    errors: list[tuple[str, dict[str, Any] | None, str]] = [
        ("contact/friend/apply", {"userId": uid(bob), "source": "BOGUS"}, "BAD_USER_INPUT"),  # unknown enum value
        ("contact/friend/apply", {"userId": uid(ann), "source": "SEARCH"}, "BAD_USER_INPUT"),
        ("contact/friend/apply", {"userId": "424242", "source": "SEARCH"}, "NOT_FOUND"),
        ("contact/friend/accept", {"userId": uid(bob)}, "NOT_FOUND"),
        ("contact/friend/list", {"limit": 0}, "BAD_USER_INPUT"),
        ("account/privacy/update", {"addFriend": "FRIENDS"}, "BAD_USER_INPUT"),
        ("user/qrcode/resolve", {"qrcode": "privchat://user/" + "Z" * 43}, "NOT_FOUND"),
        ("admin/user/list", {}, "FORBIDDEN"),
    ]
    for route, args, code in errors:
        _, graphql_code = await graphql_door(api, gql, route, args, ann.access_token)
        _, native_code = await native_door(api, services, route, args, ann.access_token)
        assert (graphql_code, native_code) == (code, code), route
