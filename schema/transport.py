"""GraphQL at /graphql: HTTP (GET/POST) and WebSocket (graphql-transport-ws, graphql-ws)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from app.context import RequestContext
from app.errors import AppError
from app.graphiql import render_graphiql
from app.runtime import Services
from schema.build import Api

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"
STATIC_PREFIX = "/graphql/static"


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def client_ip(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


class GraphQLApp(GraphQL[RequestContext, None]):
    def __init__(self, api: Api, services: Services) -> None:
        http = services.settings.http
        super().__init__(
            api.schema,
            graphql_ide="graphiql" if http.graphiql else None,
            allow_queries_via_get=True,
            keep_alive=True,
            keep_alive_interval=http.ws_keep_alive_seconds,
            connection_init_wait_timeout=timedelta(seconds=http.ws_connection_init_timeout_seconds),
        )
        self.api = api
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> RequestContext:
        return RequestContext(
            services=self.services,
            transport="ws" if isinstance(request, WebSocket) else "http",
            token=bearer_token(request.headers.get("authorization")),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            service_key=request.headers.get("x-service-key"),
        )

    async def on_ws_connect(self, context: RequestContext) -> Any:  # type: ignore[override]
        """Authenticate a WebSocket from its connection_init payload; a refused token closes
        the socket (4403 on graphql-transport-ws)."""
        params = getattr(context, "connection_params", None) or {}
        if not isinstance(params, dict):
            raise ConnectionRejectionError({"code": "BAD_USER_INPUT", "message": "payload must be an object"})
        raw = params.get("authorization") or params.get("Authorization") or params.get("token")
        if isinstance(raw, str) and raw:
            context.token = bearer_token(raw) or raw
            try:
                await context.authenticate()
            except AppError as exc:
                raise ConnectionRejectionError({"code": exc.code.value, "message": exc.message}) from None
        return None

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(render_graphiql(graphql_path=GRAPHQL_PATH, static_prefix=STATIC_PREFIX))
