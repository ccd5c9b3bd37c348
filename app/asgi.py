"""The two ASGI apps: the client port (GraphQL, /gate, web client) and the service port
(health, metrics, files, admin). Front doors are handed in by the composition root."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from app.files.http import file_routes
from app.graphiql import static_app
from app.runtime import Services
from app.webclient import PageConfig, web_client_routes


def client_app(
    services: Services,
    *,
    graphql: ASGIApp,
    schema_sdl: str,
    extra_routes: list[BaseRoute] | None = None,
    files_enabled: bool = False,
) -> Starlette:
    """Port 9080: /graphql (HTTP + WS), /graphql/schema.graphql, GraphiQL assets, /gate,
    and the web client at /app/ (unless `http.web_client` is off; `files_enabled` tells it
    whether the server offers file uploads)."""
    settings = services.settings

    async def sdl(_: Request) -> Response:
        return PlainTextResponse(schema_sdl, media_type="application/graphql; charset=utf-8")

    # Without introspection the schema is not published in any form.
    published = [Route("/graphql/schema.graphql", sdl, methods=["GET"])] if settings.http.introspection else []
    routes: list[BaseRoute] = [
        *published,
        Mount("/graphql/static", app=static_app()),
        Route("/graphql", graphql, methods=["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"]),
        *(extra_routes or []),
    ]
    if settings.http.web_client:
        page = PageConfig.of(
            settings, graphql_path="/graphql", files_enabled=files_enabled, files_base=services.files.base_url
        )
        routes += web_client_routes(page)
    middleware = []
    if settings.http.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.http.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "x-service-key"],
            )
        )
    app = Starlette(routes=routes, middleware=middleware)
    app.router.routes.append(_websocket_route("/graphql", graphql))
    return app


def _websocket_route(path: str, app: ASGIApp) -> BaseRoute:
    from starlette.routing import WebSocketRoute

    return WebSocketRoute(path, app)


def service_app(services: Services, *, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    """Port 9083: /healthz, /readyz, /metrics, files under /api/app/files (and admin REST)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok = await services.db.ping()
        # Redis down degrades live delivery between processes but the service keeps
        # working: reported, not a reason to take this process out of the balancer.
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "database": ok, "redis": services.bus.redis_reachable},
            status_code=200 if ok else 503,
        )

    async def metrics(request: Request) -> Response:
        if services.settings.http.metrics_require_service_key:
            bearer = request.headers.get("authorization", "")
            key = request.headers.get("x-service-key") or (bearer[7:] if bearer[:7].lower() == "bearer " else None)
            if not services.admin_key_matches(key):
                return PlainTextResponse("the service key is required", status_code=401)
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *file_routes(services.settings, services.files, services.devices.authenticate),
        *(extra_routes or []),
    ]
    return Starlette(routes=routes)
