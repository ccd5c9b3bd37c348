"""GraphQL at /graphql: HTTP (GET/POST, schema/http.py) and WebSocket
(graphql-transport-ws and legacy graphql-ws, served by strawberry with the handlers of
schema/ws.py)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from app.context import RequestContext
from app.errors import AppError, ErrorCode
from app.faults import as_app_error
from app.graphiql import render_graphiql
from app.runtime import Services
from schema.build import Api
from schema.fanout import Encoded
from schema.http import GraphQLHTTP
from schema.ws import ConnectionInitFailed, LegacyWSHandler, TransportWSHandler

log = logging.getLogger(__name__)

GRAPHQL_PATH = "/graphql"
STATIC_PREFIX = "/graphql/static"
WS_TRANSPORT_LABEL = "graphql_ws"


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def client_ip(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


def request_context(services: Services, conn: HTTPConnection) -> RequestContext:
    """One context per HTTP request, or per WebSocket connection (its token then comes
    from the connection_init payload, see `GraphQLApp.on_ws_connect`)."""
    return RequestContext(
        services=services,
        transport="ws" if conn.scope["type"] == "websocket" else "http",
        token=bearer_token(conn.headers.get("authorization")),
        ip=client_ip(conn),
        user_agent=conn.headers.get("user-agent"),
        host=_host_name(conn.headers.get("host")),
        service_key=conn.headers.get("x-service-key"),
    )


def _host_name(host: str | None) -> str | None:
    """`chat.example.com:9080` -> `chat.example.com` (IPv6 literals keep their brackets)."""
    if not host:
        return None
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def graphiql_page() -> str:
    return render_graphiql(graphql_path=GRAPHQL_PATH, static_prefix=STATIC_PREFIX)


class GraphQLApp(GraphQL[RequestContext, None]):
    """HTTP requests go to `GraphQLHTTP`; strawberry's view serves WebSockets only."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, api: Api, services: Services) -> None:
        http = services.settings.http
        super().__init__(
            api.schema,
            graphql_ide=None,
            keep_alive=True,  # `ka` messages on the legacy protocol
            keep_alive_interval=http.ws_keep_alive_seconds,
            connection_init_wait_timeout=timedelta(seconds=http.ws_connection_init_timeout_seconds),
            # Browsers on other origins may open sockets only where CORS lets them call us.
            allowed_origins=http.cors_origins,
        )
        self.api = api
        self.services = services
        self.fanout = api.fanout  # the WebSocket handlers find it here (schema/ws.py)
        self.http = GraphQLHTTP(
            api.schema,
            context=self._http_context,
            metrics=services.metrics,
            max_body_bytes=http.max_body_bytes,
            graphiql_page=graphiql_page if http.graphiql and http.introspection else None,
            max_upload_bytes=services.settings.file.max_graphql_upload_bytes,
        )

    def encode_json(self, data: object) -> str | bytes:
        if isinstance(data, Encoded):  # a live event's message, encoded once per process
            return data.text
        return super().encode_json(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
            return
        gauge = self.services.metrics.connections_current.labels(WS_TRANSPORT_LABEL)
        gauge.inc()
        try:
            await super().__call__(scope, receive, send)
        finally:
            gauge.dec()

    async def _http_context(self, conn: HTTPConnection) -> RequestContext:
        return request_context(self.services, conn)

    async def get_context(self, request: Any, response: Any = None) -> RequestContext:
        return request_context(self.services, request)

    async def on_ws_connect(self, context: RequestContext) -> Any:  # type: ignore[override]
        """Authenticate a WebSocket from its connection_init payload; a refused token closes
        the socket (4403 on graphql-transport-ws, connection_error on graphql-ws)."""
        params = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization") or params.get("token")
        if raw is None:
            return None  # an anonymous connection; operations that need a user refuse it
        if not isinstance(raw, str) or not raw.strip():
            refusal: dict[str, object] = {
                "code": ErrorCode.UNAUTHENTICATED.value,
                "message": "authorization must be a string",
            }
            raise ConnectionRejectionError(refusal)
        context.token = bearer_token(raw) or raw.strip()
        try:
            await context.authenticate()
        except AppError as exc:
            raise ConnectionRejectionError({"code": exc.code.value, "message": exc.message}) from None
        except Exception as exc:  # e.g. the database is down: not the client's fault
            raise ConnectionInitFailed(as_app_error(exc, what="connection_init")) from None
        return None
