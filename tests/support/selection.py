"""Full GraphQL selection sets, so a test can ask GraphQL for exactly what the native door returns."""

from __future__ import annotations

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
)


def _unwrap(type_: GraphQLOutputType) -> GraphQLOutputType:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def selection(type_: GraphQLOutputType, depth: int = 0) -> str:
    """`{ a b { c } }` for an object type; unions select every member with __typename."""
    named = _unwrap(type_)
    if depth > 8:
        raise ValueError("output types nest too deeply for a full selection")
    if isinstance(named, GraphQLUnionType):
        parts = ["__typename"]
        for member in named.types:
            parts.append(f"... on {member.name} {selection(member, depth + 1)}")
        return "{ " + " ".join(parts) + " }"
    if isinstance(named, GraphQLObjectType):
        parts = []
        for name, field in named.fields.items():
            inner = _unwrap(field.type)
            if isinstance(inner, GraphQLObjectType | GraphQLUnionType):
                parts.append(f"{name} {selection(field.type, depth + 1)}")
            else:
                parts.append(name)
        return "{ " + " ".join(parts) + " }"
    return ""


def operation_for(schema: GraphQLSchema, kind: str, field_name: str, has_input: bool) -> str:
    root = schema.query_type if kind == "query" else schema.mutation_type
    assert root is not None
    field = root.fields[field_name]
    input_type = field.args["input"].type if has_input else None
    header = f"($input: {input_type})" if input_type is not None else ""
    call = f"{field_name}(input: $input)" if has_input else field_name
    return f"{kind} Op{header} {{ {call} {selection(field.type)} }}"
