"""Builds the GraphQL schema from the operation registry, and the route caller the
native gateway uses: both go through `Operation.invoke` with the same inputs."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, cast

import strawberry
from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNonNull,
    Undefined,
    coerce_input_value,
)
from graphql.utilities.validate_input_value import validate_input_value
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import create_type
from strawberry.types.arguments import convert_argument
from strawberry.types.base import has_object_definition

from app.config import HttpSettings
from app.context import RequestContext
from app.errors import AppError, ErrorCode
from app.ops import Kind, Operation, Registry
from schema.common import SCALAR_MAP
from schema.errors import ErrorCodes, to_graphql_error
from schema.limits import complexity_rule
from schema.operation_name import OperationNameRequired
from schema.parser_cache import ParserCache

log = logging.getLogger(__name__)


def _all_optional(input_type: type) -> bool:
    definition = input_type.__strawberry_definition__  # type: ignore[attr-defined]
    return all(
        f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        for f in definition.fields
    )


def _query_or_mutation_field(op: Operation) -> Any:
    if op.input_type is None:

        async def resolve(info: strawberry.Info) -> Any:
            try:
                return await op.invoke(info.context, None)
            except AppError as exc:
                raise to_graphql_error(exc) from None

        resolve.__annotations__ = {"info": strawberry.Info, "return": op.output_type}
    elif _all_optional(op.input_type):
        input_type = op.input_type

        # Every field has a default: `input` may be left out (`{ channelList { ... } }`).
        async def resolve(info: strawberry.Info, input: Any = None) -> Any:  # type: ignore[misc]
            try:
                return await op.invoke(info.context, input if input is not None else input_type())
            except AppError as exc:
                raise to_graphql_error(exc) from None

        resolve.__annotations__ = {"info": strawberry.Info, "input": op.input_type | None, "return": op.output_type}
    else:

        async def resolve(info: strawberry.Info, input: Any) -> Any:  # type: ignore[misc]
            try:
                return await op.invoke(info.context, input)
            except AppError as exc:
                raise to_graphql_error(exc) from None

        resolve.__annotations__ = {"info": strawberry.Info, "input": op.input_type, "return": op.output_type}
    resolve.__name__ = resolve.__qualname__ = op.route.replace("/", "__")
    return strawberry.field(resolver=resolve, name=op.field_name, description=op.description)


def _subscription_field(op: Operation) -> Any:
    async def stream(info: strawberry.Info, input: Any) -> AsyncIterator[Any]:
        try:
            async for item in await op.open_stream(info.context, input):
                yield item
        except AppError as exc:
            raise to_graphql_error(exc) from None

    returns = AsyncIterator[op.output_type]  # type: ignore[name-defined]
    if op.input_type is None:

        def resolve(info: strawberry.Info) -> AsyncIterator[Any]:
            return stream(info, None)

        resolve.__annotations__ = {"info": strawberry.Info, "return": returns}
    else:

        def resolve(info: strawberry.Info, input: Any = None) -> AsyncIterator[Any]:  # type: ignore[misc]
            return stream(info, input)

        # Optional, so `subscription { events { ... } }` works without arguments.
        resolve.__annotations__ = {"info": strawberry.Info, "input": op.input_type | None, "return": returns}
    resolve.__name__ = resolve.__qualname__ = op.route.replace("/", "__")
    return strawberry.subscription(resolver=resolve, name=op.field_name, description=op.description)


def _check_names(op: Operation) -> None:
    if op.input_type is not None:
        definition = op.input_type.__strawberry_definition__  # type: ignore[attr-defined]
        expected = op.field_name[:1].upper() + op.field_name[1:] + "Input"
        if definition.name != expected:
            raise TypeError(f"{op.route}: input type must be named {expected}, not {definition.name}")


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log only what is unexpected: typed AppErrors and invalid documents are the
        client's business and are counted in metrics instead."""
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, AppError | GraphQLError):
                continue
            log.error("GraphQL execution failed", exc_info=original)


def build_schema(registry: Registry, http: HttpSettings) -> strawberry.Schema:
    by_kind: dict[Kind, list[Any]] = {Kind.QUERY: [], Kind.MUTATION: [], Kind.SUBSCRIPTION: []}
    for op in registry:
        _check_names(op)
        field = _subscription_field(op) if op.kind is Kind.SUBSCRIPTION else _query_or_mutation_field(op)
        by_kind[op.kind].append(field)
    # Rule classes are made once: the validation cache is keyed by them, so classes made
    # per request (as QueryDepthLimiter/MaxAliasesLimiter do) would defeat it.
    rules: list[Any] = [
        depth_rule(http.max_query_depth, None),
        alias_rule(http.max_aliases),
        complexity_rule(http.max_complexity),
    ]
    if not http.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories, so each request gets fresh extension instances.
    extensions: list[Any] = [
        ErrorCodes,
        OperationNameRequired,
        lambda: MaxTokensLimiter(max_token_count=http.max_tokens),
        lambda: AddValidationRules(rules),
        # Clients send the same few documents over and over: parse and validate each once.
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
    ]
    return Schema(
        query=create_type("Query", by_kind[Kind.QUERY]),
        mutation=create_type("Mutation", by_kind[Kind.MUTATION]) if by_kind[Kind.MUTATION] else None,
        subscription=(create_type("Subscription", by_kind[Kind.SUBSCRIPTION]) if by_kind[Kind.SUBSCRIPTION] else None),
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALAR_MAP),
    )


class Api:
    """The schema plus a by-route caller taking plain maps (the native gateway's door).

    Inputs are coerced against the same GraphQL input types, so a wrong type fails the
    same way on both doors; outputs are the GraphQL objects as maps.
    """

    def __init__(self, operations: Iterable[Operation], http: HttpSettings) -> None:
        self.registry = Registry(operations)
        self.schema = build_schema(self.registry, http)
        self._graphql = self.schema._schema
        self._union_members = {
            member.name
            for type_ in self._graphql.type_map.values()
            if getattr(type_, "types", None) is not None and type(type_).__name__ == "GraphQLUnionType"
            for member in type_.types  # type: ignore[attr-defined]
        }

    def input_for(self, op: Operation, args: dict[str, Any] | None) -> Any:
        if op.input_type is None:
            if args:
                raise AppError(ErrorCode.BAD_USER_INPUT, f"{op.route} takes no arguments")
            return None
        if args is not None and not isinstance(args, dict):
            raise AppError(ErrorCode.BAD_USER_INPUT, "args must be a map")
        gql_type = cast(
            GraphQLInputObjectType,
            self._graphql.get_type(op.input_type.__strawberry_definition__.name),  # type: ignore[attr-defined]
        )
        problems: list[str] = []

        def on_error(error: GraphQLError, path: Any) -> None:
            problems.append(error.message)

        value = args or {}
        target = GraphQLNonNull(gql_type)
        validate_input_value(value, target, on_error)
        coerced = coerce_input_value(value, target) if not problems else Undefined
        if problems or coerced is Undefined:
            detail = "; ".join(problems[:5]) or "does not match the input type"
            raise AppError(ErrorCode.BAD_USER_INPUT, "invalid arguments: " + detail)
        return convert_argument(
            coerced, op.input_type, self.schema.schema_converter.scalar_registry, self.schema.config
        )

    async def call(self, route: str, ctx: RequestContext, args: dict[str, Any] | None) -> dict[str, Any]:
        op = self.registry.get(route)
        if op.kind is Kind.SUBSCRIPTION:
            raise AppError(ErrorCode.BAD_USER_INPUT, f"{route} is a subscription, not an RPC")
        result = await op.invoke(ctx, self.input_for(op, args))
        out = self.to_wire(result)
        assert isinstance(out, dict)
        return out

    def to_wire(self, value: Any) -> Any:
        """A strawberry output value as plain maps and scalars, named as in GraphQL."""
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.name
        if isinstance(value, list | tuple):
            return [self.to_wire(v) for v in value]
        if has_object_definition(value):
            definition = value.__strawberry_definition__  # type: ignore[attr-defined]
            out: dict[str, Any] = {}
            if definition.name in self._union_members:
                out["__typename"] = definition.name
            for field in definition.fields:
                out[self.schema.config.name_converter.get_graphql_name(field)] = self.to_wire(
                    getattr(value, field.python_name)
                )
            return out
        if dataclasses.is_dataclass(value):
            return {k: self.to_wire(v) for k, v in dataclasses.asdict(value).items()}  # type: ignore[arg-type]
        raise TypeError(f"cannot put {type(value).__name__} on the wire")


def input_type_of(api: Api, route: str) -> GraphQLInputType | None:
    op = api.registry.get(route)
    if op.input_type is None:
        return None
    return api._graphql.get_type(op.input_type.__strawberry_definition__.name)  # type: ignore[attr-defined,return-value]
