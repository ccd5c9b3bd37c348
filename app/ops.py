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

from app.admin.audit import Actor
from app.context import RequestContext
from app.errors import AppError, ErrorCode
from app.faults import as_app_error
from app.text import check_input

log = logging.getLogger(__name__)

ROUTE_RE = re.compile(r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*\Z")

# Inputs are sized before they are read (coercion costs per value): no list of any input
# may hold more items than this (the largest batch a service takes is 1,000)...
MAX_INPUT_LIST_ITEMS = 1000
# ...nor the whole input more values than this...
MAX_INPUT_VALUES = 20_000
# ...nor nest deeper than this...
MAX_INPUT_DEPTH = 32
# ...and an input of more values than this is only read once its caller is authenticated.
EARLY_AUTH_VALUES = 256


def input_size(value: Any, path: str = "input") -> int:
    """How many values a raw input (maps, lists, scalars, as decoded from JSON or
    MessagePack) holds; refuses an oversized list before looking inside it, nesting past
    MAX_INPUT_DEPTH, and stops counting past MAX_INPUT_VALUES."""
    count = 0
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        count += 1
        if depth > MAX_INPUT_DEPTH:
            raise AppError(
                ErrorCode.BAD_USER_INPUT, f"{path} is nested more than {MAX_INPUT_DEPTH} levels deep", field=path
            )
        if count > MAX_INPUT_VALUES:
            raise AppError(
                ErrorCode.PAYLOAD_TOO_LARGE, f"the input holds more than {MAX_INPUT_VALUES} values", field=path
            )
        if isinstance(item, list | tuple):
            if len(item) > MAX_INPUT_LIST_ITEMS:
                raise AppError(
                    ErrorCode.BAD_USER_INPUT,
                    f"{where} holds {len(item)} items; at most {MAX_INPUT_LIST_ITEMS} are accepted",
                    field=where,
                )
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item))
        elif isinstance(item, dict):
            stack.extend((v, f"{where}.{k}", depth + 1) for k, v in item.items())
    return count


class Kind(StrEnum):
    QUERY = "query"
    MUTATION = "mutation"
    SUBSCRIPTION = "subscription"


class Auth(StrEnum):
    NONE = "none"  # anyone (a token, if sent, is still checked when the operation asks)
    USER = "user"  # a live device session
    ADMIN = "admin"  # an admin user's session, or the service key


class Audience(StrEnum):
    """Who an operation is for: the authorization matrix test (tests/integration/
    test_authorization_matrix.py) calls every operation as every kind of caller, with the
    ids of someone else's objects, and checks each answer against this."""

    ANYONE = "anyone"  # no session needed (register, log in, health)
    SELF = "self"  # a session; reads or changes only the caller's own account, devices, lists
    USER = "user"  # a session; reaches other users only as their privacy settings and blocks allow
    MEMBER = "member"  # members of the channel or group the input names (or a message's channel)
    GROUP_ADMIN = "group_admin"  # the owner and admins of the group the input names
    GROUP_OWNER = "group_owner"  # the owner of the group the input names
    ADMIN = "admin"  # server administrators and the service key


# The audience each Auth implies when it needs no more precision; USER operations declare theirs.
_IMPLIED_AUDIENCE = {"none": Audience.ANYONE, "admin": Audience.ADMIN}
_AUDIENCES_BY_AUTH = {
    "none": {Audience.ANYONE},
    "admin": {Audience.ADMIN},
    "user": {Audience.SELF, Audience.USER, Audience.MEMBER, Audience.GROUP_ADMIN, Audience.GROUP_OWNER},
}


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
    audience: Audience | None = None  # None: undeclared (the authorization matrix test fails)

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
            check_input(input)
            return await self.fn(ctx, input)
        except AppError as exc:
            code = exc.code.value
            raise
        except Exception as exc:
            error = as_app_error(exc, what=f"operation {self.route}")
            code = error.code.value
            raise error from None
        finally:
            metrics.rpc_done(self.route, code, perf_counter() - started)
            if self.auth is Auth.ADMIN:
                await _audit(ctx, self.route, input, code)

    async def precheck(self, ctx: RequestContext, raw: Any, path: str = "input") -> None:
        """Before an input is read (coerced to its type): refuse oversized lists, and make
        the caller of a bulky input authenticate first, so an anonymous 26k-item batch
        costs a length check, not a second of coercion before UNAUTHENTICATED."""
        if raw is None or isinstance(raw, str | int | float | bool):
            return
        if input_size(raw, path) > EARLY_AUTH_VALUES:
            await self.authenticate_early(ctx)

    async def authenticate_early(self, ctx: RequestContext) -> None:
        """Authenticate as admission will, before the input is read."""
        if self.auth is Auth.NONE:
            return
        if self.auth is Auth.ADMIN and ctx.services.admin_key_matches(ctx.service_key):
            return
        await ctx.authenticate_early()

    async def open_stream(self, ctx: RequestContext, input: Any) -> AsyncIterator[Any]:
        """Start a subscription on the shared path (admission is checked before the first item)."""
        code = "OK"
        try:
            await self._admit(ctx)
            if input is not None:
                check_input(input)
        except AppError as exc:
            code = exc.code.value
            raise
        except Exception as exc:
            error = as_app_error(exc, what=f"subscription {self.route}")
            code = error.code.value
            raise error from None
        finally:
            ctx.services.metrics.rpc_done(self.route, code, None)
        stream: AsyncIterator[Any] = self.fn(ctx) if self.input_type is None else self.fn(ctx, input)
        return self._mapped(stream)

    async def _mapped(self, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The stream's items; an unexpected exception ends it with a typed error (as
        `invoke` answers), never with a message naming internals."""
        try:
            async for item in stream:
                yield item
        except AppError:
            raise
        except Exception as exc:
            raise as_app_error(exc, what=f"subscription {self.route}") from None
        finally:
            # `async for` does not close what it iterates: end the stream (and what it
            # holds, e.g. the device's listener) now, not whenever it is collected.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _admit(self, ctx: RequestContext) -> None:
        services = ctx.services
        if self.auth is Auth.NONE:
            return
        if self.auth is Auth.ADMIN and services.admin_key_matches(ctx.service_key):
            return
        principal = await ctx.admitted_principal()
        if self.auth is Auth.ADMIN and not principal.is_admin:
            raise AppError(ErrorCode.FORBIDDEN, "administrator rights required")
        await services.ratelimit.hit(services.settings.security.rpc_per_user, "rpc", str(principal.user_id))
        if self.rate_limit:
            await services.ratelimit.hit(self.rate_limit, self.route, str(principal.user_id))


async def _audit(ctx: RequestContext, route: str, input: Any, code: str) -> None:
    """Every admin-audience call, allowed or refused, goes to the append-only audit log."""
    services = ctx.services
    if services.admin_key_matches(ctx.service_key):
        actor = Actor("service_key", None)
    elif ctx.maybe_principal is not None:
        actor = Actor("user", ctx.maybe_principal.user_id)
    else:
        actor = Actor("anonymous", None)
    await services.audit.record(actor=actor, route=route, transport=ctx.transport, input=input, result=code, ip=ctx.ip)


def _operation(
    kind: Kind,
    route: str,
    fn: Callable[..., Any],
    *,
    auth: Auth,
    rate_limit: str | None,
    audience: Audience | None,
) -> Operation:
    if not ROUTE_RE.match(route):
        raise ValueError(f"bad route name {route!r}")
    audience = audience or _IMPLIED_AUDIENCE.get(auth.value)
    if audience is not None and audience not in _AUDIENCES_BY_AUTH[auth.value]:
        raise ValueError(f"{route}: audience {audience.value} does not fit auth {auth.value}")
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
        audience=audience,
    )


def query(
    route: str,
    fn: Callable[..., Awaitable[Any]],
    *,
    auth: Auth = Auth.USER,
    rate_limit: str | None = None,
    audience: Audience | None = None,
) -> Operation:
    return _operation(Kind.QUERY, route, fn, auth=auth, rate_limit=rate_limit, audience=audience)


def mutation(
    route: str,
    fn: Callable[..., Awaitable[Any]],
    *,
    auth: Auth = Auth.USER,
    rate_limit: str | None = None,
    audience: Audience | None = None,
) -> Operation:
    return _operation(Kind.MUTATION, route, fn, auth=auth, rate_limit=rate_limit, audience=audience)


def subscription(
    route: str, fn: Callable[..., AsyncIterator[Any]], *, auth: Auth = Auth.USER, audience: Audience | None = None
) -> Operation:
    return _operation(Kind.SUBSCRIPTION, route, fn, auth=auth, rate_limit=None, audience=audience)


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
