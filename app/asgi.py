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

from app.graphiql import static_app
from app.runtime import Services


def client_app(
    services: Services,
    *,
    graphql: ASGIApp,
    schema_sdl: str,
    extra_routes: list[BaseRoute] | None = None,
) -> Starlette:
    """Port 9080: /graphql (HTTP + WS), /graphql/schema.graphql, GraphiQL assets, /gate."""
    settings = services.settings

    async def sdl(_: Request) -> Response:
        return PlainTextResponse(schema_sdl, media_type="application/graphql; charset=utf-8")

    routes: list[BaseRoute] = [
        Route("/graphql/schema.graphql", sdl, methods=["GET"]),
        Mount("/graphql/static", app=static_app()),
        Route("/graphql", graphql, methods=["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"]),
        *(extra_routes or []),
    ]
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
    """Port 9083: /healthz, /readyz, /metrics (and, later, files and admin REST)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok = await services.db.ping()
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "database": ok}, status_code=200 if ok else 503
        )

    async def metrics(_: Request) -> Response:
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *(extra_routes or []),
    ]
    return Starlette(routes=routes)
