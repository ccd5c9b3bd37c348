"""The admin REST door's OpenAPI 3.1 document, generated from the registry's GraphQL types.

Input and output shapes are the GraphQL ones (same names, camelCase fields), written as
JSON Schema 2020-12 under `components.schemas`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
)

from app.errors import HTTP_STATUS
from app.ops import field_name

if TYPE_CHECKING:
    from schema.admin_rest import Binding
    from schema.build import Api

SCALARS: dict[str, dict[str, Any]] = {
    "String": {"type": "string"},
    "ID": {"type": "string", "pattern": "^[0-9]+$"},
    "Int": {"type": "integer", "format": "int32"},
    "Long": {"type": "integer", "format": "int64"},
    "Float": {"type": "number"},
    "Boolean": {"type": "boolean"},
    "DateTime": {"type": "string", "format": "date-time"},
    "Date": {"type": "string", "format": "date"},
    "JSON": {},
    "Upload": {"type": "string", "format": "binary"},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(code.value for code in HTTP_STATUS)},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


class _Schemas:
    """Named GraphQL types as components, each written once (types may refer to each other)."""

    def __init__(self, unions: set[str]) -> None:
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA}
        self.union_members = unions

    def ref(self, gql_type: Any) -> dict[str, Any]:
        """A schema for a (possibly wrapped) type, nullable unless NonNull."""
        if isinstance(gql_type, GraphQLNonNull):
            return self._bare(gql_type.of_type)
        return {"anyOf": [self._bare(gql_type), {"type": "null"}]}

    def _bare(self, gql_type: Any) -> dict[str, Any]:
        if isinstance(gql_type, GraphQLList):
            return {"type": "array", "items": self.ref(gql_type.of_type)}
        assert isinstance(gql_type, GraphQLNamedType)
        if isinstance(gql_type, GraphQLScalarType):
            return dict(SCALARS.get(gql_type.name, {}))
        name = gql_type.name
        if name not in self.components:
            self.components[name] = {}  # placeholder: breaks cycles
            self.components[name] = self._named(gql_type)
        return {"$ref": f"#/components/schemas/{name}"}

    def _named(self, gql_type: GraphQLNamedType) -> dict[str, Any]:
        out: dict[str, Any]
        if isinstance(gql_type, GraphQLEnumType):
            out = {"type": "string", "enum": list(gql_type.values)}
        elif isinstance(gql_type, GraphQLUnionType):
            out = {"oneOf": [self._bare(member) for member in gql_type.types]}
        elif isinstance(gql_type, GraphQLInputObjectType):
            out = self.input_object(gql_type)
        elif isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            properties = {name: self._described(self.ref(f.type), f.description) for name, f in gql_type.fields.items()}
            if gql_type.name in self.union_members:
                properties["__typename"] = {"const": gql_type.name}
            out = {"type": "object", "properties": properties, "required": list(properties)}
        else:  # pragma: no cover - every named GraphQL type is one of the above
            out = {}
        if gql_type.description:
            out["description"] = gql_type.description
        return out

    def input_object(self, gql_type: GraphQLInputObjectType, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for name, f in gql_type.fields.items():
            if name in skip:
                continue
            properties[name] = self._described(self.ref(f.type), f.description)
            if _required_field(f):
                required.append(name)
        out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            out["required"] = required
        return out

    @staticmethod
    def _described(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
        return {**schema, "description": description} if description else schema


def _required_field(field: Any) -> bool:
    return isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined


def openapi_document(api: Api, bindings: list[Binding]) -> dict[str, Any]:
    from schema.admin_rest import PREFIX

    graphql = api.schema._schema
    unions = {m.name for t in graphql.type_map.values() if isinstance(t, GraphQLUnionType) for m in t.types}
    schemas = _Schemas(unions)
    paths: dict[str, dict[str, Any]] = {}
    seen_ids: dict[str, int] = {}
    for binding in bindings:
        op = api.registry.get(binding.route)
        path_fields = [field_name(p) for p in binding.params]
        input_type = (
            graphql.get_type(op.input_type.__strawberry_definition__.name)  # type: ignore[attr-defined]
            if op.input_type is not None
            else None
        )
        parameters: list[dict[str, Any]] = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "description": f"the `{field_name(p)}` input field",
                "schema": _path_schema(input_type, field_name(p)),
            }
            for p in binding.params
        ]
        entry: dict[str, Any] = {
            "operationId": _unique(binding.operation_id, seen_ids),
            "summary": (op.description or binding.route).splitlines()[0],
            "description": f"Registry route `{binding.route}` ({op.kind.value}); GraphQL field `{op.field_name}`.",
            "tags": [binding.route.split("/")[1]],
        }
        if isinstance(input_type, GraphQLInputObjectType):
            if binding.method in ("GET", "DELETE"):
                for name, f in input_type.fields.items():
                    if name in path_fields:
                        continue
                    parameters.append(
                        {
                            "name": name,
                            "in": "query",
                            "required": _required_field(f),
                            **({"description": f.description} if f.description else {}),
                            "schema": schemas.ref(f.type),
                        }
                    )
            else:
                body = schemas.input_object(input_type, skip=tuple(path_fields))
                entry["requestBody"] = {
                    "required": bool(body.get("required")),
                    "content": {"application/json": {"schema": body}},
                }
        if parameters:
            entry["parameters"] = parameters
        output = graphql.get_type(_output_name(api, op))
        entry["responses"] = {
            str(binding.status): {
                "description": "success",
                "content": {"application/json": {"schema": schemas.ref(GraphQLNonNull(output))}},  # type: ignore[arg-type]
            },
            **{
                str(status): {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for status, description in (
                    (400, "bad input (BAD_USER_INPUT)"),
                    (401, "no or wrong X-Service-Key / token (UNAUTHENTICATED)"),
                    (403, "a token without admin rights (FORBIDDEN)"),
                    (404, "not found (NOT_FOUND)"),
                    (409, "conflict (CONFLICT)"),
                    (429, "rate limited (RATE_LIMITED)"),
                )
            },
        }
        paths.setdefault(PREFIX + binding.path, {})[binding.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PrivChat admin API",
            "version": "1",
            "description": "Generated from the operation registry's admin operations: the same operations as "
            "the admin* GraphQL fields and the native gateway's admin/* routes.",
        },
        "servers": [{"url": "/"}],
        "security": [{"serviceKey": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "serviceKey": {"type": "apiKey", "in": "header", "name": "X-Service-Key"},
                "bearer": {"type": "http", "scheme": "bearer", "description": "an administrator's access token"},
            },
        },
    }


def _path_schema(input_type: Any, name: str) -> dict[str, Any]:
    field = input_type.fields.get(name) if isinstance(input_type, GraphQLInputObjectType) else None
    bare = field.type.of_type if field is not None and isinstance(field.type, GraphQLNonNull) else None
    if getattr(bare, "name", None) == "ID":
        return {"type": "string", "pattern": "^[0-9]+$"}
    return {"type": "string"}


def _unique(name: str, seen: dict[str, int]) -> str:
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name}{seen[name]}"


def _output_name(api: Api, op: Any) -> str:
    definition = getattr(op.output_type, "__strawberry_definition__", None)
    if definition is None:
        raise TypeError(f"{op.route}: output is not an object type")
    name: str = definition.name
    return name
