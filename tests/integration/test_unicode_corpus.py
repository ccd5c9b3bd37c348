"""The Unicode corpus, generated from the registry: every string field of every
operation's input (nested ones too) gets lone surrogates, NUL, bidi controls and a 1 MB
string, through both doors; each answer is a typed error or a success, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLScalarType

from app.runtime import Services
from schema.build import Api
from tests.integration.test_authorization_matrix import (
    NOT_JSON,
    ONE_OF_TYPES,
    arguments,
    build_world,
    native_answer,
)
from tests.support.graphql import GraphQLClient

CORPUS = {
    "lone surrogate": "a\ud800b",
    "NUL": "a\x00b",
    "bidi override": "\u202egpj.exe",
    "zero-width only": "\u200b\u200b",
    "1 MB": "x" * 1_000_000,
}


def string_paths(type_: Any, prefix: tuple[str | int, ...] = (), depth: int = 0) -> list[tuple[str | int, ...]]:
    """Paths of the String fields of an input type (through lists and nested inputs)."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            prefix = (*prefix, 0)
        type_ = type_.of_type
    if isinstance(type_, GraphQLScalarType):
        return [prefix] if type_.name == "String" else []
    if not isinstance(type_, GraphQLInputObjectType) or depth > 4:
        return []
    out = []
    for name, field in type_.fields.items():
        out += string_paths(field.type, (*prefix, name), depth + 1)
    return out


def put(args: dict[str, Any], path: tuple[str | int, ...], value: str) -> dict[str, Any] | None:
    """A copy of `args` with `value` at `path` (None when the generated args lack the path's parent)."""
    copy = json.loads(json.dumps(args))
    node: Any = copy
    for step in path[:-1]:
        if isinstance(step, int):
            if not isinstance(node, list) or not node:
                return None
            node = node[0]
        else:
            if not isinstance(node, dict):
                return None
            node = node.setdefault(step, {})
    if isinstance(path[-1], int):
        return None
    if not isinstance(node, dict):
        return None
    node[path[-1]] = value
    return copy


@pytest.mark.timeout(900)
async def test_every_string_input_takes_the_corpus(api: Api, services: Services, gql: GraphQLClient) -> None:
    world = await build_world(services)
    schema = api.schema._schema
    for name in schema.type_map:
        ONE_OF_TYPES[name] = bool(getattr(api.schema.get_type_by_name(name), "is_one_of", False))
    token = world.accounts["ann"].access_token
    problems: list[str] = []
    tried = 0
    for op in api.registry:
        if op.input_type is None or op.kind.value == "subscription" or op.route in NOT_JSON:
            continue
        if op.route in ("device/revoke_all", "device/kick_others", "account/auth/logout", "group/group/dismiss"):
            continue  # would end the session or the world the next routes are called in
        type_name = op.input_type.__strawberry_definition__.name  # type: ignore[attr-defined]
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLInputObjectType)
        base = arguments(type_, world, op.route)
        document = f"{op.kind.value}($input: {type_name}!) {{ {op.field_name}(input: $input) {{ __typename }} }}"
        for path in string_paths(type_):
            for label, value in CORPUS.items():
                args = put(base, path, value)
                if args is None:
                    continue
                tried += 1
                body = json.dumps({"query": document, "variables": {"input": args}}, ensure_ascii=True)
                headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
                response = await gql.http.post("/graphql", content=body.encode(), headers=headers)
                codes = [e.get("extensions", {}).get("code") for e in response.json().get("errors") or []]
                if response.status_code >= 500 or "INTERNAL" in codes:
                    problems.append(f"{op.route} {path} {label} via graphql: {response.status_code} {codes}")
                code, _ = await native_answer(api, services, op, args, token)
                if code == "INTERNAL":
                    problems.append(f"{op.route} {path} {label} via native: INTERNAL")
    assert tried > 200, tried
    assert problems == [], "\n".join(problems)
