"""The third door: `/api/admin/*` on the service port, generated from the registry's admin
operations (never a second implementation).

Each admin operation gets one REST binding: the seed's paths from `BINDINGS`, and for every
other admin route a default (`GET /api/admin/<route>` for queries, `POST` for mutations).
Arguments are the operation's GraphQL input fields (camelCase): path parameters, then the
query string (GET, DELETE) or a JSON object body (POST, PUT, PATCH). They go through
`Api.call`, so authentication (`X-Service-Key`, or an admin's bearer token), validation,
rate limits, metrics and audit are those of the other two doors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    GraphQLBoolean,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.context import RequestContext
from app.errors import HTTP_STATUS, AppError, ErrorCode
from app.ops import Auth, Kind, Operation, field_name
from app.runtime import Services
from schema.build import Api

PREFIX = "/api/admin"
MAX_BODY_BYTES = 1024 * 1024
_PARAM_RE = re.compile(r"{([a-z_]+)}")


@dataclass(frozen=True, slots=True)
class Binding:
    method: str
    path: str  # below PREFIX; `{snake_name}` parameters are input fields (`userId`)
    route: str
    status: int = 200  # on success

    @property
    def params(self) -> list[str]:
        return _PARAM_RE.findall(self.path)

    @property
    def operation_id(self) -> str:
        return field_name(self.route)


# The seed's paths (and their siblings). Admin routes not named here get a default binding.
BINDINGS: list[Binding] = [
    Binding("POST", "/users", "admin/user/create", 201),
    Binding("GET", "/users", "admin/user/list"),
    Binding("GET", "/users/{user_id}", "admin/user/get"),
    Binding("PATCH", "/users/{user_id}", "admin/user/update"),
    Binding("DELETE", "/users/{user_id}", "admin/user/delete"),
    Binding("POST", "/users/{user_id}/disable", "admin/user/disable"),
    Binding("POST", "/users/{user_id}/enable", "admin/user/enable"),
    Binding("POST", "/users/{user_id}/logout", "admin/user/logout_all"),
    Binding("POST", "/users/{user_id}/password-reset", "admin/user/reset_password"),
    Binding("PUT", "/users/{user_id}/role", "admin/user/set_role"),
    Binding("GET", "/users/{user_id}/friends", "admin/user/friends"),
    Binding("GET", "/devices", "admin/device/list"),
    Binding("GET", "/users/{user_id}/devices", "admin/device/list"),
    Binding("POST", "/devices/revoke", "admin/device/revoke"),
    Binding("DELETE", "/users/{user_id}/devices/{device_id}", "admin/device/revoke"),
    Binding("GET", "/login-logs", "admin/login_log/list"),
    Binding("GET", "/groups", "admin/group/list"),
    Binding("GET", "/groups/{group_id}", "admin/group/info"),
    Binding("DELETE", "/groups/{group_id}", "admin/group/delete"),
    Binding("PATCH", "/groups/{group_id}", "admin/group/update"),
    Binding("POST", "/groups/{group_id}/members", "admin/group/member/add"),
    Binding("DELETE", "/groups/{group_id}/members/{user_id}", "admin/group/member/remove"),
    Binding("POST", "/friendships", "admin/friendship/create", 201),
    Binding("GET", "/friendships", "admin/friendship/list"),
    Binding("DELETE", "/friendships", "admin/friendship/remove"),
    Binding("GET", "/friendships/user/{user_id}", "admin/friendship/list"),
    Binding("GET", "/messages", "admin/message/list"),
    Binding("DELETE", "/messages/{message_id}", "admin/message/delete"),
    Binding("GET", "/channels/{channel_id}/export", "admin/message/export"),
    Binding("POST", "/broadcast", "admin/broadcast/send", 202),
    Binding("GET", "/stats/overview", "admin/stats/overview"),
    Binding("GET", "/audit", "admin/audit/list"),
]


def admin_operations(api: Api) -> list[Operation]:
    return [op for op in api.registry if op.auth is Auth.ADMIN and op.kind is not Kind.SUBSCRIPTION]


def bindings_for(api: Api) -> list[Binding]:
    """Every admin operation's bindings: the named ones that exist, then the defaults."""
    ops = {op.route: op for op in admin_operations(api)}
    out = [b for b in BINDINGS if b.route in ops]
    named = {b.route for b in out}
    for route, op in ops.items():
        if route not in named:
            out.append(Binding("GET" if op.kind is Kind.QUERY else "POST", "/" + route.removeprefix("admin/"), route))
    return out


def _error(exc: AppError) -> Response:
    headers = (
        {"www-authenticate": 'ServiceKey realm="privchat-admin"'} if exc.code is ErrorCode.UNAUTHENTICATED else None
    )
    return JSONResponse({"error": exc.as_dict()}, status_code=HTTP_STATUS.get(exc.code, 400), headers=headers)


def _bare(gql_type: Any) -> Any:
    return gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type


def _from_query_string(name: str, raw: list[str], gql_type: Any) -> Any:
    """Query-string text to the JSON value the input field expects."""
    bare = _bare(gql_type)
    if isinstance(bare, GraphQLList):
        return [_scalar(name, v, bare.of_type) for v in raw]
    if len(raw) > 1:
        raise AppError(ErrorCode.BAD_USER_INPUT, f"{name}: given more than once")
    return _scalar(name, raw[0], bare)


def _scalar(name: str, text: str, gql_type: Any) -> Any:
    bare = _bare(gql_type)
    try:
        if bare is GraphQLInt or (isinstance(bare, GraphQLScalarType) and bare.name == "Long"):
            return int(text)
        if bare is GraphQLFloat:
            return float(text)
    except ValueError:
        raise AppError(ErrorCode.BAD_USER_INPUT, f"{name}: not a number") from None
    if bare is GraphQLBoolean:
        if text.lower() not in ("true", "false", "1", "0"):
            raise AppError(ErrorCode.BAD_USER_INPUT, f"{name}: not true or false")
        return text.lower() in ("true", "1")
    return text


async def _read_body(request: Request) -> bytes:
    """The body, refused once it passes MAX_BODY_BYTES (never read whole into memory first)."""
    too_large = AppError(ErrorCode.PAYLOAD_TOO_LARGE, f"body larger than {MAX_BODY_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


class AdminRest:
    def __init__(self, api: Api, services: Services) -> None:
        self.api = api
        self.services = services
        self.bindings = bindings_for(api)

    def routes(self) -> list[BaseRoute]:
        from schema.openapi import openapi_document

        document = openapi_document(self.api, self.bindings)

        async def openapi(_: Request) -> Response:
            return JSONResponse(document)

        by_path: dict[str, dict[str, Binding]] = {}
        for binding in self.bindings:
            by_path.setdefault(binding.path, {})[binding.method] = binding
        routes: list[BaseRoute] = [Route(PREFIX + "/openapi.json", openapi, methods=["GET"])]
        for path, methods in by_path.items():
            routes.append(Route(PREFIX + path, self._endpoint(methods), methods=list(methods)))
        return routes

    def _endpoint(self, methods: dict[str, Binding]) -> Any:
        async def endpoint(request: Request) -> Response:
            binding = methods[request.method if request.method != "HEAD" else "GET"]
            try:
                args = await self._args(request, binding)
                ctx = self._context(request)
                data = await self.api.call(binding.route, ctx, args)
            except AppError as exc:
                return _error(exc)
            return JSONResponse(data, status_code=binding.status)

        return endpoint

    def _context(self, request: Request) -> RequestContext:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        return RequestContext(
            services=self.services,
            transport="rest",
            token=token or None,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            host=request.headers.get("host"),
            service_key=request.headers.get("x-service-key"),
        )

    async def _args(self, request: Request, binding: Binding) -> dict[str, Any]:
        op = self.api.registry.get(binding.route)
        input_type = self._input_type(op)
        fields = input_type.fields if input_type is not None else {}
        args: dict[str, Any] = {}
        for param in binding.params:
            value = request.path_params[param]
            field = fields.get(field_name(param))
            is_id = field is not None and _bare(field.type) is GraphQLID
            if is_id and not (value.isdigit() and len(value) <= 19):
                raise AppError(ErrorCode.BAD_USER_INPUT, f"{param}: not a valid id (got {value[:40]!r})")
            args[field_name(param)] = value
        if request.method in ("GET", "HEAD", "DELETE"):
            for name in request.query_params:
                if name not in fields:
                    raise AppError(ErrorCode.BAD_USER_INPUT, f"unknown parameter {name!r}")
                if name in args:
                    raise AppError(ErrorCode.BAD_USER_INPUT, f"{name}: already given in the path")
                args[name] = _from_query_string(name, request.query_params.getlist(name), fields[name].type)
        else:
            body = await _read_body(request)
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise AppError(ErrorCode.BAD_USER_INPUT, "body is not valid JSON") from None
                if not isinstance(data, dict):
                    raise AppError(ErrorCode.BAD_USER_INPUT, "body must be a JSON object")
                for name, value in data.items():
                    if name in args and args[name] != value:
                        raise AppError(ErrorCode.BAD_USER_INPUT, f"{name}: differs from the path")
                    args[name] = value
        return args

    def _input_type(self, op: Operation) -> GraphQLInputObjectType | None:
        if op.input_type is None:
            return None
        name = op.input_type.__strawberry_definition__.name  # type: ignore[attr-defined]
        return cast(GraphQLInputObjectType, self.api.schema._schema.get_type(name))


def admin_rest_routes(api: Api, services: Services) -> list[BaseRoute]:
    return AdminRest(api, services).routes()
