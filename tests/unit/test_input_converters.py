"""The native door's compiled input converters give exactly what strawberry's own
`convert_argument` gives, for every input type of every operation, with every field
given, with only the required ones, and with explicit nulls."""

from __future__ import annotations

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
    coerce_input_value,
)
from strawberry.types.arguments import convert_argument

from app.config import HttpSettings
from resolvers import ALL_OPERATIONS
from schema.build import Api

SCALARS: dict[str, Any] = {"ID": "12", "String": "text", "Int": 3, "Float": 1.5, "Boolean": True, "Long": 10**12}


def value(type_: GraphQLInputType, mode: str, depth: int = 0) -> Any:
    if isinstance(type_, GraphQLNonNull):
        return value(type_.of_type, mode, depth)
    if isinstance(type_, GraphQLList):
        return [value(type_.of_type, mode, depth + 1), value(type_.of_type, mode, depth + 1)]
    if isinstance(type_, GraphQLInputObjectType):
        return input_object(type_, mode, depth + 1)
    if isinstance(type_, GraphQLEnumType):
        return list(type_.values)[-1]
    assert isinstance(type_, GraphQLScalarType)
    return SCALARS.get(type_.name, {"key": ["json", 1]})


def input_object(type_: GraphQLInputObjectType, mode: str, depth: int) -> dict[str, Any]:
    fields = type_.fields
    if type_.is_one_of:
        name = list(fields)[depth % len(fields)]
        return {name: value(fields[name].type, mode, depth)}
    out = {}
    for name, field in fields.items():
        required = isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        if getattr(field.type, "name", None) == "Upload":
            continue
        if required or (mode == "all" and depth < 4):
            out[name] = value(field.type, mode, depth)
        elif mode == "nulls" and not isinstance(field.type, GraphQLNonNull):
            out[name] = None
    return out


API = Api(ALL_OPERATIONS, HttpSettings())
INPUT_OPS = [op for op in API.registry if op.input_type is not None]


@pytest.mark.parametrize("mode", ["all", "required", "nulls"])
def test_compiled_converters_agree_with_strawberry(mode: str) -> None:
    schema = API.schema
    compared = 0
    for op in INPUT_OPS:
        gql_type = schema._schema.get_type(op.input_type.__strawberry_definition__.name)  # type: ignore[union-attr]
        assert isinstance(gql_type, GraphQLInputObjectType)
        args = input_object(gql_type, mode, 0)
        try:
            coerced = coerce_input_value(args, GraphQLNonNull(gql_type))
        except Exception:  # an input whose rules these made-up values break
            continue
        if coerced is Undefined:
            continue
        expected = convert_argument(
            coerced, op.input_type, schema.schema_converter.scalar_registry, schema.config
        )
        assert API.input_for(op, args) == expected, op.route
        compared += 1
    assert compared > len(INPUT_OPS) * 0.8, compared
