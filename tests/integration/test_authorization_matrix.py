"""The authorization matrix, generated from the registry: every query and mutation is
called through both doors by every kind of caller, with the ids of the owner's objects
(arguments generated from the route's GraphQL input type), and each answer is checked
against the operation's declared `Audience`.

| audience     | anonymous | stranger, blocked, admin of another group | plain member |
|--------------|-----------|-------------------------------------------|--------------|
| ANYONE       | admitted  | -                                         | -            |
| SELF, USER   | UNAUTH.   | admitted (acts on their own records)      | admitted     |
| MEMBER       | UNAUTH.   | never OK, never a 500                     | -            |
| GROUP_ADMIN  | UNAUTH.   | never OK                                  | never OK     |
| GROUP_OWNER  | UNAUTH.   | never OK                                  | never OK     |
| ADMIN        | UNAUTH.   | FORBIDDEN                                 | FORBIDDEN    |

The owner's own reads must be admitted (so the arguments are meaningful, and a refusal
of the others is the audience speaking). Both doors must give the same code every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
)

from app.context import RequestContext
from app.errors import AppError
from app.ops import Audience, Kind, Operation
from app.runtime import Services
from resolvers import ALL_OPERATIONS
from schema.build import Api
from tests.support import factories
from tests.support.graphql import GraphQLClient

# Routes taking bytes (a GraphQL multipart upload): not callable with JSON arguments.
NOT_JSON = {"file/upload"}
REFUSED = {"NOT_FOUND", "FORBIDDEN"}
ADMITTED_FOR_READS = {"OK", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT"}
OWNER_READ_EXCEPTIONS = {"file/validate_token"}  # checks the upload token in its input, not the caller
# Whose rows mean something for each audience: SELF and USER operations act on the
# caller's own records (and would end the sessions or change the relations the next
# rows rely on), so only their anonymous row is called; a MEMBER operation's plain
# member is allowed (and may leave), so that row is skipped.
ROWS: dict[Audience, set[str]] = {
    Audience.ANYONE: {"anonymous"},
    Audience.SELF: {"anonymous"},
    Audience.USER: {"anonymous"},
    Audience.MEMBER: {"anonymous", "stranger", "blocked", "other_group_admin", "owner"},
    Audience.GROUP_ADMIN: {"anonymous", "stranger", "blocked", "other_group_admin", "member", "owner"},
    Audience.GROUP_OWNER: {"anonymous", "stranger", "blocked", "other_group_admin", "member", "owner"},
    Audience.ADMIN: {"anonymous", "stranger", "blocked", "other_group_admin", "member", "owner"},
}


ONE_OF_TYPES: dict[str, bool] = {}  # filled from the strawberry definitions (graphql-core cannot tell)


def test_every_operation_declares_an_audience() -> None:
    missing = [op.route for op in ALL_OPERATIONS if op.audience is None]
    assert missing == [], f"declare an Audience for {missing} (app/ops.py)"


@dataclass
class World:
    """ann owns a group with bob as a plain member and a message in it; oscar owns
    another group; sam is a stranger; mal is blocked by ann; root is a server admin."""

    accounts: dict[str, factories.Account]
    group_id: int
    channel_id: int
    message_id: int
    other_group_id: int


async def build_world(services: Services) -> World:
    names = ("ann", "bob", "sam", "mal", "oscar", "olga")
    accounts = {name: await factories.account(services, f"{name}mx") for name in names}
    ann, bob = accounts["ann"], accounts["bob"]
    created = await services.groups.create(ann.principal, name="Matrix", member_ids=[bob.user_id])
    group_id = created.group.id
    other = await services.groups.create(
        accounts["oscar"].principal, name="Other", member_ids=[accounts["olga"].user_id]
    )
    await services.blacklist.block(ann.principal, user_id=accounts["mal"].user_id)
    channel_id = group_id
    await factories.send_text(services, ann, channel_id, "hello group")
    history = await services.messaging.history(
        ann.principal, channel_id, before_pts=None, after_pts=None, limit=5, newest_first=True
    )
    return World(
        accounts=accounts,
        group_id=group_id,
        channel_id=channel_id,
        message_id=history.messages[0].id,
        other_group_id=other.group.id,
    )


def _value(name: str, type_: GraphQLInputType, world: World, route: str, depth: int = 0) -> Any:
    """A value for an input field, by its name where the name says which object it is."""
    if isinstance(type_, GraphQLNonNull):
        return _value(name, type_.of_type, world, route, depth)
    if isinstance(type_, GraphQLList):
        singular = name[:-1] if name.endswith("s") else name
        return [_value(singular, type_.of_type, world, route, depth + 1)]
    if isinstance(type_, GraphQLInputObjectType):
        return arguments(type_, world, route, depth + 1)
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    assert isinstance(type_, GraphQLScalarType)
    a = world.accounts
    by_name: dict[str, Any] = {
        "groupId": str(world.group_id),
        "channelId": str(world.channel_id),
        "messageId": str(world.message_id),
        # Group routes act on a member; others reach the owner.
        "userId": str(a["bob"].user_id if route.startswith("group/") else a["ann"].user_id),
        "toUserId": str(a["bob"].user_id),
        "friendId": str(a["bob"].user_id),
        "memberId": str(a["bob"].user_id),
        "pts": 1,
        "fromPts": 0,
        "limit": 5,
    }
    if name in by_name:
        return by_name[name]
    return {"ID": "1", "String": "matrix", "Int": 1, "Long": 1000, "Float": 1.0, "Boolean": True}.get(type_.name, {})


def arguments(type_: GraphQLInputObjectType, world: World, route: str, depth: int = 0) -> dict[str, Any]:
    if ONE_OF_TYPES.get(type_.name):
        name = "text" if "text" in type_.fields else next(iter(type_.fields))
        return {name: _value(name, type_.fields[name].type, world, route, depth)}
    out = {}
    for name, field in type_.fields.items():
        required = isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        if required or name in ("groupId", "channelId", "messageId", "userId") or (depth == 0 and name == "limit"):
            out[name] = _value(name, field.type, world, route, depth)
    return out


async def graphql_code(api: Api, gql: GraphQLClient, op: Operation, args: dict[str, Any] | None, token: str | None) -> str:
    if op.input_type is None:
        document = f"{op.kind.value} {{ {op.field_name} {{ __typename }} }}"
        result = await gql.execute(document, token=token) if token else await gql.with_token(None).execute(document)
    else:
        type_name = op.input_type.__strawberry_definition__.name  # type: ignore[attr-defined]
        document = f"{op.kind.value}($input: {type_name}!) {{ {op.field_name}(input: $input) {{ __typename }} }}"
        result = await gql.execute(document, {"input": args}, token=token)
    return result.error_code or "OK"


async def graphql_error(gql: GraphQLClient, op: Operation, args: dict[str, Any] | None, token: str) -> tuple[str, str]:
    type_name = op.input_type.__strawberry_definition__.name  # type: ignore[union-attr]
    document = f"{op.kind.value}($input: {type_name}!) {{ {op.field_name}(input: $input) {{ __typename }} }}"
    result = await gql.execute(document, {"input": args}, token=token)
    return result.error_code or "OK", result.errors[0]["message"] if result.errors else ""


def with_missing_ids(value: Any, world: World) -> Any:
    """The same arguments, naming objects that do not exist instead of the owner's."""
    targets = {str(world.channel_id), str(world.group_id), str(world.message_id)}
    if isinstance(value, dict):
        return {
            k: "987654321"
            if k in ("channelId", "groupId", "messageId") and isinstance(v, str) and v in targets
            else with_missing_ids(v, world)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return ["987654321" if isinstance(v, str) and v in targets else with_missing_ids(v, world) for v in value]
    return value


async def native_answer(
    api: Api, services: Services, op: Operation, args: dict[str, Any] | None, token: str | None
) -> tuple[str, Any]:
    ctx = RequestContext(services=services, transport="test", token=token, ip="127.0.0.1")
    try:
        data = await api.call(op.route, ctx, args)
    except AppError as exc:
        return exc.code.value, None
    return "OK", data


def mentions(data: Any, world: World) -> list[Any]:
    """The parts of an answer about the owner's objects (a batch may answer OK and refuse
    an item: `{channelId, ok: false, errorCode}` says nothing about it)."""
    targets = {"channelId": str(world.channel_id), "groupId": str(world.group_id), "messageId": str(world.message_id)}
    found = []
    if isinstance(data, dict):
        if data.get("ok") is not False and any(data.get(k) == v for k, v in targets.items()):
            found.append(data)
        for value in data.values():
            found += mentions(value, world)
    elif isinstance(data, list):
        for value in data:
            found += mentions(value, world)
    return found


def expected_problem(op: Operation, actor: str, code: str, data: Any, world: World) -> str | None:
    """What is wrong with `code` (and the native door's `data`) as the answer to `actor`, or None."""
    audience = op.audience
    if code == "INTERNAL":
        return "a 500"
    if actor == "anonymous":
        if audience is Audience.ANYONE:
            return None  # made-up credentials may be refused; anything but a 500 is an answer
        # BAD_USER_INPUT: the input was malformed, which is checked before the caller.
        if code in ("UNAUTHENTICATED", "BAD_USER_INPUT"):
            return None
        return "anonymous callers must be refused (UNAUTHENTICATED)"
    if audience is Audience.ADMIN:
        return None if code == "FORBIDDEN" else "only administrators may call it"
    outsiders = {"stranger", "blocked", "other_group_admin"}
    if audience is Audience.MEMBER and actor in outsiders and code == "OK" and (data is None or mentions(data, world)):
        return f"a non-member got through: {mentions(data, world)[:2] if data else ''}"
    if audience in (Audience.GROUP_ADMIN, Audience.GROUP_OWNER) and actor in outsiders | {"member"} and code == "OK":
        return f"a {actor} got through an operation for the group's {audience.value}"
    if actor == "owner" and code not in ADMITTED_FOR_READS and op.route not in OWNER_READ_EXCEPTIONS:
        return "the owner's own read was refused"
    return None


ACTORS = {
    "anonymous": None,
    "stranger": "sam",
    "blocked": "mal",
    "other_group_admin": "oscar",
    "member": "bob",
    "owner": "ann",
}


@pytest.mark.timeout(600)
async def test_authorization_matrix(api: Api, services: Services, gql: GraphQLClient) -> None:
    world = await build_world(services)
    schema = api.schema._schema
    for name in schema.type_map:
        definition = api.schema.get_type_by_name(name)
        ONE_OF_TYPES[name] = bool(getattr(definition, "is_one_of", False))
    problems: list[str] = []
    checked = 0
    for op in api.registry:
        if op.kind is Kind.SUBSCRIPTION or op.route in NOT_JSON:
            continue
        args = None
        if op.input_type is not None:
            type_ = schema.get_type(op.input_type.__strawberry_definition__.name)  # type: ignore[attr-defined]
            assert isinstance(type_, GraphQLInputObjectType)
            args = arguments(type_, world, op.route)
        for actor, name in ACTORS.items():
            assert op.audience is not None
            if actor not in ROWS[op.audience]:
                continue
            if actor == "owner" and op.kind is not Kind.QUERY and op.audience is not Audience.ADMIN:
                continue  # the owner's writes change the world the next routes are called in
            token = world.accounts[name].access_token if name else None
            via_graphql = await graphql_code(api, gql, op, args, token)
            via_native, data = await native_answer(api, services, op, args, token)
            checked += 1
            if via_graphql != via_native:
                problems.append(f"{op.route} as {actor}: GraphQL {via_graphql}, native {via_native}")
            for door, code in (("graphql", via_graphql), ("native", via_native)):
                problem = expected_problem(op, actor, code, data, world)
                if problem:
                    problems.append(f"{op.route} ({op.audience}) as {actor} via {door}: {code}: {problem}")
        # Existence oracle: someone else's object and no object at all look the same.
        if op.audience in (Audience.MEMBER, Audience.GROUP_ADMIN, Audience.GROUP_OWNER) and args:
            stranger = world.accounts["sam"].access_token
            foreign = await graphql_error(gql, op, args, stranger)
            missing = await graphql_error(gql, op, with_missing_ids(args, world), stranger)
            if foreign != missing and foreign[0] != "OK":
                problems.append(f"{op.route}: someone else's object answers {foreign}, a missing one {missing}")
    assert checked > 150
    assert problems == [], "\n".join(problems)
