"""One registry, two doors: GraphQL and the by-route caller the native gateway uses
return the same data and the same error codes."""

from __future__ import annotations

import pytest
from graphql import Undefined, is_non_null_type

from app.context import RequestContext
from app.errors import AppError
from app.ops import Kind, Registry, field_name, mutation, query
from app.runtime import Services
from resolvers import ALL_OPERATIONS
from schema.build import Api
from tests.support import factories
from tests.support.graphql import GraphQLClient
from tests.support.selection import operation_for


def test_field_names_follow_the_naming_rule() -> None:
    assert field_name("contact/friend/apply") == "contactFriendApply"
    assert field_name("channel/direct/get_or_create") == "channelDirectGetOrCreate"
    assert field_name("message/history/get") == "messageHistoryGet"
    assert field_name("system/health") == "systemHealth"
    assert field_name("device/kick_others") == "deviceKickOthers"


def test_registry_refuses_duplicates() -> None:
    async def a(ctx: RequestContext) -> int:
        return 1

    with pytest.raises(ValueError, match="twice"):
        Registry([query("x/y", a), mutation("x/y", a)])
    with pytest.raises(ValueError, match="share a field name"):
        Registry([query("x/a_b", a), query("x/a/b", a)])
    with pytest.raises(ValueError, match="bad route"):
        query("X/Y", a)


def test_every_graphql_root_field_comes_from_the_registry(api: Api) -> None:
    schema = api.schema._schema
    roots = {
        "query": set(schema.query_type.fields),
        "mutation": set(schema.mutation_type.fields),
        "subscription": set(schema.subscription_type.fields),
    }
    expected: dict[str, set[str]] = {"query": set(), "mutation": set(), "subscription": set()}
    for op in ALL_OPERATIONS:
        expected[op.kind.value].add(op.field_name)
    assert roots == expected


def test_inputs_are_named_after_their_field(api: Api) -> None:
    schema = api.schema._schema
    for op in api.registry:
        if op.kind is Kind.SUBSCRIPTION:
            continue
        root = schema.query_type if op.kind is Kind.QUERY else schema.mutation_type
        args = root.fields[op.field_name].args
        if op.input_type is None:
            assert args == {}
        else:
            assert list(args) == ["input"]
            name = op.field_name[0].upper() + op.field_name[1:] + "Input"
            # `input` may be omitted exactly when every one of its fields has a default
            all_optional = all(f.default_value is not Undefined or not is_non_null_type(f.type)
                               for f in args["input"].type.of_type.fields.values()) if str(args["input"].type).endswith("!") else True
            assert str(args["input"].type) in (name, name + "!")
            assert str(args["input"].type) == (name if all_optional else name + "!"), op.route


async def both_doors(api: Api, services: Services, gql: GraphQLClient, route: str, args: dict | None,
                     token: str | None) -> tuple[dict | None, str | None, dict | None, str | None]:
    op = api.registry.get(route)
    document = operation_for(api.schema._schema, op.kind.value, op.field_name, op.input_type is not None)
    result = await gql.execute(document, {"input": args} if op.input_type is not None else None, token=token)
    gql_data = result.body["data"][op.field_name] if result.body.get("data") else None
    ctx = RequestContext(services=services, transport="test", token=token, ip="127.0.0.1")
    try:
        native = await api.call(route, ctx, args)
        native_code = None
    except AppError as exc:
        native, native_code = None, exc.code.value
    return gql_data, result.error_code, native, native_code


async def test_same_results_through_both_doors(api: Api, services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann", device_id="phone")
    await factories.login(services, "ann", device_id="tablet")
    bob = await factories.account(services, "bob")
    cases: list[tuple[str, dict | None, str | None]] = [
        ("system/health", None, None),
        ("account/profile/get", None, ann.access_token),
        ("account/user/detail", {"userId": str(bob.user_id)}, ann.access_token),
        ("device/list", None, ann.access_token),
        ("account/auth/login_history", {"limit": 5}, ann.access_token),
        ("account/profile/update", {"bio": "same both ways"}, ann.access_token),
        ("device/update_name", {"deviceId": "tablet", "deviceName": "Tab"}, ann.access_token),
    ]
    for route, args, token in cases:
        gql_data, gql_code, native, native_code = await both_doors(api, services, gql, route, args, token)
        assert gql_code is None and native_code is None, (route, gql_code, native_code)
        if route == "system/health":  # the clock moves between the two calls
            gql_data.pop("serverTime"), native.pop("serverTime")
        if route == "device/list":  # lastActiveAt may be touched by the first call
            for d in gql_data["devices"] + native["devices"]:
                d.pop("lastActiveAt")
        assert gql_data == native, route


async def test_same_errors_through_both_doors(api: Api, services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    cases: list[tuple[str, dict | None, str | None, str]] = [
        ("account/profile/get", None, None, "UNAUTHENTICATED"),
        ("account/profile/get", None, "garbage", "UNAUTHENTICATED"),
        ("account/user/detail", {"userId": "abc"}, ann.access_token, "BAD_USER_INPUT"),
        ("account/user/detail", {"userId": "424242"}, ann.access_token, "NOT_FOUND"),
        ("account/user/detail", {"userId": 12}, ann.access_token, "BAD_USER_INPUT"),  # ID from int is fine in GraphQL; both agree
        ("account/user/detail", {}, ann.access_token, "BAD_USER_INPUT"),
        ("account/user/detail", {"userId": "1", "extra": 1}, ann.access_token, "BAD_USER_INPUT"),
        ("account/auth/login_history", {"limit": "ten"}, ann.access_token, "BAD_USER_INPUT"),
        ("account/auth/login_history", {"limit": 100000}, ann.access_token, "BAD_USER_INPUT"),
        ("account/user/register", {"username": "x", "password": "y"}, None, "BAD_USER_INPUT"),
        ("device/revoke", {"deviceId": "nope"}, ann.access_token, "NOT_FOUND"),
    ]
    for route, args, token, code in cases:
        _gql_data, gql_code, _native, native_code = await both_doors(api, services, gql, route, args, token)
        if route == "account/user/detail" and args == {"userId": 12}:
            # GraphQL coerces an Int variable into ID; so does the native door.
            assert gql_code == native_code, (route, args, gql_code, native_code)
            continue
        assert (gql_code, native_code) == (code, code), (route, args)


async def test_unknown_route_is_a_typed_error(api: Api, services: Services) -> None:
    ctx = RequestContext(services=services, transport="test")
    with pytest.raises(AppError) as err:
        await api.call("no/such/route", ctx, {})
    assert err.value.code.value == "UNKNOWN_ROUTE"
    with pytest.raises(AppError) as err:
        await api.call("system/health", ctx, {"unexpected": 1})
    assert err.value.code.value == "BAD_USER_INPUT"


async def test_metrics_count_calls_by_route_and_code(api: Api, services: Services, gql: GraphQLClient) -> None:
    await gql.execute("query { accountProfileGet { profile { id } } }")
    await gql.execute("query { systemHealth { status } }")
    text = services.metrics.render().decode()
    assert 'privchat_rpc_total{code="UNAUTHENTICATED",route="account/profile/get"} 1.0' in text
    assert 'privchat_rpc_total{code="OK",route="system/health"} 1.0' in text
    assert 'privchat_rpc_duration_seconds_count{route="system/health"} 1.0' in text
