"""Composition root: builds the runtime, the GraphQL schema, the servers, and runs them.

The only module in `app` that imports `schema`, `resolvers` and `gateway_native`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from app import runtime
from app.asgi import client_app, service_app
from app.config import Settings
from app.runtime import Services
from resolvers import ALL_OPERATIONS
from schema.build import Api
from schema.transport import GraphQLApp

log = logging.getLogger(__name__)


def build_api(settings: Settings) -> Api:
    return Api(ALL_OPERATIONS, settings.http)


class _Server(uvicorn.Server):
    """uvicorn server whose signals are handled by `serve` for all servers at once."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class App:
    services: Services
    api: Api
    servers: list[uvicorn.Server]

    def request_shutdown(self) -> None:
        for server in self.servers:
            server.should_exit = True


def build_app(settings: Settings) -> App:
    services = runtime.build_services(settings)
    api = build_api(settings)
    graphql = GraphQLApp(api, services)
    client = client_app(services, graphql=graphql, schema_sdl=api.schema.as_str())
    service = service_app(services)
    host = settings.host
    grace = settings.http.shutdown_grace_seconds

    def server(app: object, port: int) -> uvicorn.Server:
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=host,
            port=port,
            lifespan="off",
            log_config=None,
            access_log=False,
            ws_max_size=settings.http.max_body_bytes,
            timeout_graceful_shutdown=int(grace) if grace else None,
            proxy_headers=False,
        )
        return _Server(config)

    servers = [server(client, settings.http.ws_port), server(service, settings.http.port)]
    return App(services=services, api=api, servers=servers)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then stop accepting, finish in-flight work and exit."""
    app = build_app(settings)
    await runtime.start(app.services)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, app.request_shutdown)
    try:
        tasks = [asyncio.create_task(s.serve()) for s in app.servers]
        # Announce readiness once every listener is bound (tests and operators wait on this).
        while not all(s.started for s in app.servers):
            if any(t.done() for t in tasks):
                app.request_shutdown()
                break
            await asyncio.sleep(0.02)
        else:
            log.info(
                "PrivChat ready: graphql=http://%s:%d/graphql service=http://%s:%d",
                settings.host,
                settings.http.ws_port,
                settings.host,
                settings.http.port,
            )
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if any(not s.started for s in app.servers):
            raise SystemExit(f"could not bind a listener on {settings.host}; see the log above")
    finally:
        await runtime.stop(app.services)
        log.info("PrivChat stopped")
