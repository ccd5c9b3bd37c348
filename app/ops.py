"""The operation registry: every RPC exists once, under a route name.

GraphQL fields and native gateway routes are both generated from these entries,
and both call `Operation.invoke`, where authentication, rate limits, metrics and
error mapping happen, so the two doors cannot disagree.
"""

from __future__ import annotations

import logging
import re
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from time import perf_counter
from typing import Any

from app.context import RequestContext
from app.errors import AppError, ErrorCode

log = logging.getLogger(__name__)

ROUTE_RE = re.compile(r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*$")


class Kind(StrEnum):
    QUERY = "query"
    MUTATION = "mutation"
    SUBSCRIPTION = "subscription"


class Auth(StrEnum):
    NONE = "none"  # anyone (a token, if sent, is still checked when the operation asks)
    USER = "user"  # a live device session
    ADMIN = "admin"  # an admin user's session, or the service key


def field_name(route: str) -> str:
    """`channel/direct/get_or_create` -> `channelDirectGetOrCreate`."""
    words = [w for segment in route.split("/") for w in segment.split("_") if w]
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


@dataclass(frozen=True, slots=True)
class Operation:
    route: str
    fn: Callable[..., Any]
    kind: Kind
    auth: Auth
    input_type: type | None
    output_type: Any
    description: str | None
    rate_limit: str | None = None  # extra per-user rule for this route, e.g. "5/second"

    @property
    def field_name(self) -> str:
        return field_name(self.route)

    async def invoke(self, ctx: RequestContext, input: Any) -> Any:
        """Run a query or mutation on the shared path."""
        metrics = ctx.services.metrics
        started = perf_counter()
        code = "OK"
        try:
            await self._admit(ctx)
            if self.input_type is None:
                return await self.fn(ctx)
            return await self.fn(ctx, input)
        except AppError as exc:
            code = exc.code.value
            raise
        except Exception:
            code = ErrorCode.INTERNAL.value
            log.exception("operation %s failed", self.route)
            raise AppError(ErrorCode.INTERNAL, "internal server error") from None
        finally:
            metrics.rpc_total.labels(self.route, code).inc()
            metrics.rpc_duration.labels(self.route).observe(perf_counter() - started)

    async def open_stream(self, ctx: RequestContext, input: Any) -> AsyncIterator[Any]:
        """Start a subscription on the shared path (admission is checked before the first item)."""
        code = "OK"
        try:
            await self._admit(ctx)
        except AppError as exc:
            code = exc.code.value
            raise
        finally:
            ctx.services.metrics.rpc_total.labels(self.route, code).inc()
        stream: AsyncIterator[Any] = self.fn(ctx) if self.input_type is None else self.fn(ctx, input)
        return stream

    async def _admit(self, ctx: RequestContext) -> None:
        services = ctx.services
        if self.auth is Auth.NONE:
            return
        if self.auth is Auth.ADMIN and services.admin_key_matches(ctx.service_key):
            return
        principal = await ctx.authenticate()
        if self.auth is Auth.ADMIN and not principal.is_admin:
            raise AppError(ErrorCode.FORBIDDEN, "administrator rights required")
        await services.ratelimit.hit(services.settings.security.rpc_per_user, "rpc", str(principal.user_id))
        if self.rate_limit:
            await services.ratelimit.hit(self.rate_limit, self.route, str(principal.user_id))


def _operation(
    kind: Kind,
    route: str,
    fn: Callable[..., Any],
    *,
    auth: Auth,
    rate_limit: str | None,
) -> Operation:
    if not ROUTE_RE.match(route):
        raise ValueError(f"bad route name {route!r}")
    hints = typing.get_type_hints(fn, include_extras=True)
    params = [p for p in hints if p != "return"]
    if len(params) not in (1, 2):
        raise TypeError(f"{route}: resolver must take (ctx) or (ctx, input)")
    input_type = hints[params[1]] if len(params) == 2 else None
    if input_type is not None and type(None) in typing.get_args(input_type):
        # `input: X | None`: the argument may be omitted (subscriptions); X is the type.
        input_type = next(a for a in typing.get_args(input_type) if a is not type(None))
    output_type = hints["return"]
    if kind is Kind.SUBSCRIPTION:
        args = typing.get_args(output_type)
        if not args:
            raise TypeError(f"{route}: a subscription returns AsyncIterator[Item]")
        output_type = args[0]
    return Operation(
        route=route,
        fn=fn,
        kind=kind,
        auth=auth,
        input_type=input_type,
        output_type=output_type,
        description=(fn.__doc__ or "").strip() or None,
        rate_limit=rate_limit,
    )


def query(
    route: str, fn: Callable[..., Awaitable[Any]], *, auth: Auth = Auth.USER, rate_limit: str | None = None
) -> Operation:
    return _operation(Kind.QUERY, route, fn, auth=auth, rate_limit=rate_limit)


def mutation(
    route: str, fn: Callable[..., Awaitable[Any]], *, auth: Auth = Auth.USER, rate_limit: str | None = None
) -> Operation:
    return _operation(Kind.MUTATION, route, fn, auth=auth, rate_limit=rate_limit)


def subscription(route: str, fn: Callable[..., AsyncIterator[Any]], *, auth: Auth = Auth.USER) -> Operation:
    return _operation(Kind.SUBSCRIPTION, route, fn, auth=auth, rate_limit=None)


class Registry:
    """Route name -> Operation; refuses duplicates (of routes and of GraphQL field names)."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self._by_route: dict[str, Operation] = {}
        fields: dict[str, str] = {}
        for op in operations:
            if op.route in self._by_route:
                raise ValueError(f"route {op.route!r} registered twice")
            if op.field_name in fields:
                raise ValueError(f"routes {op.route!r} and {fields[op.field_name]!r} share a field name")
            self._by_route[op.route] = op
            fields[op.field_name] = op.route

    def __iter__(self) -> typing.Iterator[Operation]:
        return iter(self._by_route.values())

    def __len__(self) -> int:
        return len(self._by_route)

    def get(self, route: str) -> Operation:
        op = self._by_route.get(route)
        if op is None:
            raise AppError(ErrorCode.UNKNOWN_ROUTE, f"unknown route {route!r}")
        return op

    def routes(self) -> list[str]:
        return list(self._by_route)
