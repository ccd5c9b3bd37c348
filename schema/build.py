"""Builds the GraphQL schema from the operation registry, and the route caller the
native gateway uses: both go through `Operation.invoke` with the same inputs."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import AsyncIterator, Callable, Iterable
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
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import create_type
from strawberry.types.base import has_object_definition

from app.config import HttpSettings
from app.context import RequestContext
from app.errors import AppError, ErrorCode
from app.ops import Kind, Operation, Registry
from schema.common import SCALAR_MAP
from schema.documents import DocumentCache
from schema.errors import to_graphql_error
from schema.fanout import Fanout, SchemaExecutor, current_delivery
from schema.guards import Guards, RequestGuards
from schema.inputs import InputConverters
from schema.limits import limits_rule

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
            items = await op.open_stream(info.context, input)
            # Over WebSocket, items go out as bytes built once per process (schema/fanout.py);
            # what that cannot carry (an item whose execution reports errors) is yielded to
            # strawberry's per-subscriber execution, as everything was before.
            deliver = current_delivery.get()
            async for item in items:
                if deliver is None or not await deliver(item):
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
    ops_by_field = {op.field_name: op for op in registry}
    for op in registry:
        _check_names(op)
        field = _subscription_field(op) if op.kind is Kind.SUBSCRIPTION else _query_or_mutation_field(op)
        by_kind[op.kind].append(field)
    # Rule classes are made once: the validation cache is keyed by them, so classes made
    # per request (as QueryDepthLimiter/MaxAliasesLimiter do) would defeat it.
    # Depth, aliases and complexity in one rule that measures each fragment once:
    # strawberry's depth and alias rules expand every spread again (exponential time).
    rules: list[Any] = [
        limits_rule(
            max_depth=http.max_query_depth, max_aliases=http.max_aliases, max_complexity=http.max_complexity
        ),
    ]
    if not http.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    guards = Guards(
        max_tokens=http.max_tokens,
        rules=tuple(rules),
        hide_suggestions=not http.introspection,
        ops_by_field=ops_by_field,
        # Clients send the same few documents over and over: parse and validate each once.
        documents=DocumentCache(size=512, max_tokens=http.max_tokens),
    )
    # Factories, so each request gets fresh extension instances (strawberry's rule); what
    # they enforce is made once, above.
    extensions: list[Any] = [lambda: RequestGuards(guards)]
    return Schema(
        query=create_type("Query", by_kind[Kind.QUERY]),
        mutation=create_type("Mutation", by_kind[Kind.MUTATION]) if by_kind[Kind.MUTATION] else None,
        subscription=(create_type("Subscription", by_kind[Kind.SUBSCRIPTION]) if by_kind[Kind.SUBSCRIPTION] else None),
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALAR_MAP),
        execution_context_class=SchemaExecutor,  # subscriptions outside the shared path
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
        self._writers: dict[type, Callable[[Any], Any]] = {}
        self._input_targets: dict[type, GraphQLNonNull[Any]] = {}
        self._hide_suggestions = not http.introspection
        self._converters = InputConverters(self.schema.schema_converter.scalar_registry, self.schema.config)
        self.fanout = Fanout(self._graphql)
        self._install_root_resolvers()

    def _install_root_resolvers(self) -> None:
        """Queries and mutations resolved straight from graphql-core's coerced arguments.

        strawberry's resolver wrapper converts the `input` argument with `convert_argument`
        on every request, working out each field's name and type again (~20% of the cost
        of a `messageSend` over GraphQL), and runs per-field extension hooks we do not use.
        The root fields call `Operation.invoke` directly, with the input converted by the
        converter compiled for its type (the native door's, so both doors build the same
        input objects); fields below the root stay strawberry's."""
        roots = {Kind.QUERY: self._graphql.query_type, Kind.MUTATION: self._graphql.mutation_type}
        for op in self.registry:
            root = roots.get(op.kind)
            if root is None:
                continue
            root.fields[op.field_name].resolve = self._root_resolver(op)

    def _root_resolver(self, op: Operation) -> Any:
        if op.input_type is None:

            async def resolve_plain(_root: Any, info: Any) -> Any:
                try:
                    return await op.invoke(info.context, None)
                except AppError as exc:
                    raise to_graphql_error(exc) from None

            return resolve_plain
        convert = self._converters.for_type(op.input_type)
        input_type = op.input_type
        optional = _all_optional(input_type)

        async def resolve(_root: Any, info: Any, input: Any = None) -> Any:
            try:
                if input is None:
                    if not optional:
                        raise AppError(ErrorCode.BAD_USER_INPUT, "input is required")
                    value = input_type()
                else:
                    value = convert(input)
                return await op.invoke(info.context, value)
            except AppError as exc:
                raise to_graphql_error(exc) from None

        return resolve

    def input_for(self, op: Operation, args: dict[str, Any] | None) -> Any:
        if op.input_type is None:
            if args:
                raise AppError(ErrorCode.BAD_USER_INPUT, f"{op.route} takes no arguments")
            return None
        if args is not None and not isinstance(args, dict):
            raise AppError(ErrorCode.BAD_USER_INPUT, "args must be a map")
        target = self._input_targets.get(op.input_type)
        if target is None:
            gql_type = cast(
                GraphQLInputObjectType,
                self._graphql.get_type(op.input_type.__strawberry_definition__.name),  # type: ignore[attr-defined]
            )
            target = self._input_targets[op.input_type] = GraphQLNonNull(gql_type)
        value = args or {}
        # One pass when the args are right: coerce, and only when that fails, validate to
        # say why (graphql-core's coercion tells nothing of the problem).
        problems: list[str] = []
        try:
            coerced = coerce_input_value(value, target)
        except GraphQLError as exc:  # strawberry's own checks (a @oneOf input with no member or two)
            coerced = Undefined
            problems.append(exc.message)
        if coerced is Undefined:
            validate_input_value(
                value,
                target,
                lambda error, path: problems.append(error.message),
                hide_suggestions=self._hide_suggestions,
            )
            detail = "; ".join(problems[:5]) or "does not match the input type"
            raise AppError(ErrorCode.BAD_USER_INPUT, "invalid arguments: " + detail)
        try:
            return self._converters.for_type(op.input_type)(coerced)
        except GraphQLError as exc:
            raise AppError(ErrorCode.BAD_USER_INPUT, "invalid arguments: " + exc.message) from None

    async def call(self, route: str, ctx: RequestContext, args: dict[str, Any] | None) -> dict[str, Any]:
        op = self.registry.get(route)
        if op.kind is Kind.SUBSCRIPTION:
            raise AppError(ErrorCode.BAD_USER_INPUT, f"{route} is a subscription, not an RPC")
        await op.precheck(ctx, args)
        result = await op.invoke(ctx, self.input_for(op, args))
        out = self.to_wire(result)
        assert isinstance(out, dict)
        return out

    def _wire_shape(self, cls: type) -> tuple[list[tuple[str, str]], str | None]:
        """(GraphQL name, attribute) of each field of an output type, and its __typename
        when it is a union member: worked out once per type, not per value."""
        definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
        converter = self.schema.config.name_converter
        names = [(converter.get_graphql_name(f), f.python_name) for f in definition.fields]
        return names, definition.name if definition.name in self._union_members else None

    def to_wire(self, value: Any) -> Any:
        """A strawberry output value as plain maps and scalars, named as in GraphQL."""
        write = self._writers.get(type(value))
        if write is None:
            write = self._writer(type(value))
        return write(value)

    def _writer(self, cls: type) -> Callable[[Any], Any]:
        """How to put a value of exactly this type on the wire: decided once per type (an
        output value is walked for every answer and every push)."""
        write: Callable[[Any], Any]
        if cls is bool or cls is int or cls is float or cls is str or cls is type(None):
            write = _same
        elif issubclass(cls, enum.Enum):
            write = _enum_name
        elif issubclass(cls, datetime):
            write = _isoformat
        elif issubclass(cls, bool | int | float | str):  # subclasses: as their base
            write = _same
        elif issubclass(cls, list | tuple):
            write = self._write_list
        elif issubclass(cls, dict):  # a JSON scalar
            write = self._write_map
        elif has_object_definition(cls):
            write = self._object_writer(cls)
        elif dataclasses.is_dataclass(cls):
            write = self._write_dataclass
        else:
            raise TypeError(f"cannot put {cls.__name__} on the wire")
        self._writers[cls] = write
        return write

    def _object_writer(self, cls: type) -> Callable[[Any], dict[str, Any]]:
        names, typename = self._wire_shape(cls)
        writers = self._writers
        writer = self._writer

        def write(value: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"__typename": typename} if typename else {}
            for wire_name, python_name in names:
                field = getattr(value, python_name)
                w = writers.get(type(field)) or writer(type(field))
                out[wire_name] = field if w is _same else w(field)
            return out

        return write

    def _write_list(self, value: list[Any] | tuple[Any, ...]) -> list[Any]:
        return [self.to_wire(v) for v in value]

    def _write_map(self, value: dict[Any, Any]) -> dict[str, Any]:
        return {k if type(k) is str else str(k): self.to_wire(v) for k, v in value.items()}

    def _write_dataclass(self, value: Any) -> dict[str, Any]:
        return {k: self.to_wire(v) for k, v in dataclasses.asdict(value).items()}


def _same(value: Any) -> Any:
    return value


def _enum_name(value: enum.Enum) -> str:
    return value.name


def _isoformat(value: datetime) -> str:
    return value.isoformat()


def input_type_of(api: Api, route: str) -> GraphQLInputType | None:
    op = api.registry.get(route)
    if op.input_type is None:
        return None
    return api._graphql.get_type(op.input_type.__strawberry_definition__.name)  # type: ignore[attr-defined,return-value]
