"""Composition root: builds the runtime, the GraphQL schema, the servers, and runs them.

The only module in `app` that imports `schema`, `resolvers` and `gateway_native`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from app import heap, runtime
from app.asgi import client_app, service_app
from app.config import Settings
from app.runtime import Services
from gateway_native.gateway import Gateway
from gateway_native.gateway import ListenError as GatewayListenError
from resolvers import ALL_OPERATIONS
from schema.admin_rest import admin_rest_routes
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
    gateway: Gateway
    _stopping: asyncio.Task[None] | None = None

    def request_shutdown(self) -> None:
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._shutdown())

    async def _shutdown(self) -> None:
        # Native clients first: uvicorn drops WebSockets (/gate too) as soon as it stops, and
        # they must hear DISCONNECT(SERVER_SHUTDOWN) before that.
        try:
            await self.gateway.shutdown(self.services.settings.http.shutdown_grace_seconds)
        finally:
            for server in self.servers:
                server.should_exit = True


def build_app(settings: Settings) -> App:
    services = runtime.build_services(settings)
    api = build_api(settings)
    graphql = GraphQLApp(api, services)
    gateway = Gateway(api=api, services=services)
    client = client_app(
        services,
        graphql=graphql,
        schema_sdl=api.schema.as_str(),
        extra_routes=gateway.routes(),
        files_enabled="file/request_upload_token" in api.registry.routes(),
    )
    service = service_app(services, extra_routes=admin_rest_routes(api, services))
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
            timeout_graceful_shutdown=math.ceil(grace) if grace else None,
            # Longer than typical client/proxy idle timeouts, so a client never reuses a
            # connection the server is closing at the same moment.
            timeout_keep_alive=65,
            proxy_headers=False,
        )
        return _Server(config)

    servers = [server(client, settings.http.ws_port), server(service, settings.http.port)]
    return App(services=services, api=api, servers=servers, gateway=gateway)


class ListenError(RuntimeError):
    """A port could not be bound (in use, no permission, bad address)."""


def bind(host: str, port: int, *, reuse_port: bool = False, send_buffer: int = 0) -> socket.socket:
    """Bind before serving, so a port in use is a clear error and not a SystemExit from
    inside uvicorn's task. `reuse_port`: one of several workers sharing the port.
    `send_buffer`: the kernel send buffer accepted connections inherit (0: the OS's own)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says
    # TCP, and accepted sockets inherit it; with proto 0, Nagle + delayed ACK add ~40 ms
    # to every response on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if send_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


async def serve(settings: Settings, *, reuse_port: bool = False) -> None:
    """Run until SIGTERM/SIGINT, then stop accepting, finish in-flight work and exit.
    `reuse_port`: this process is one worker of `serve --workers N` (app/workers.py)."""
    app = build_app(settings)
    sockets = []
    try:
        # The client port carries the live streams (GraphQL and native WebSockets).
        send_buffer = settings.messaging.socket_send_buffer_bytes
        sockets.append(bind(settings.host, settings.http.ws_port, reuse_port=reuse_port, send_buffer=send_buffer))
        sockets.append(bind(settings.host, settings.http.port, reuse_port=reuse_port))
        app.gateway.bind(reuse_port=reuse_port)
    except (ListenError, GatewayListenError) as exc:
        for sock in sockets:
            sock.close()
        raise ListenError(str(exc)) from None
    await runtime.start(app.services)
    heap.settle()  # everything built so far lives as long as the process
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, app.request_shutdown)
    try:
        await app.gateway.start()
        tasks = [asyncio.create_task(s.serve(sockets=[sock])) for s, sock in zip(app.servers, sockets, strict=True)]
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
    finally:
        await app.gateway.close()
        await runtime.stop(app.services)
        log.info("PrivChat stopped")


def prepare_workers(settings: Settings) -> None:
    """What N workers must not each do at once, done once before they start: migrate
    the database, create the development JWT secret and QUIC certificate if used."""
    from app.db import Database
    from app.db.migrate import upgrade_to_head
    from app.security import resolve_jwt_secret
    from gateway_native.certs import dev_certificate

    resolve_jwt_secret(settings)
    gateway = settings.gateway
    uses_quic = any(listener.protocol == "quic" for listener in gateway.listeners)
    if uses_quic and (gateway.quic_certificate is None or gateway.quic_private_key is None):
        dev_certificate(settings.data_dir)
    if settings.database.auto_migrate:

        async def migrate() -> None:
            db = Database(settings.database_url)
            try:
                await upgrade_to_head(db)
            finally:
                await db.dispose()

        asyncio.run(migrate())
