"""The native gateway of one server process: its listeners and live connections.

Built by the composition root (app/main.py) from the same `Api` as GraphQL:

    gateway = Gateway(api=api, services=services)
    client_app(..., extra_routes=gateway.routes())    # /gate on the client port
    gateway.bind()                                    # TCP and UDP sockets, before serving
    await gateway.start()
    ...
    await gateway.shutdown(grace)                     # DISCONNECT(SERVER_SHUTDOWN) to everyone
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from app.config import ListenerSettings, Settings
from app.metrics import Metrics
from app.runtime import Services
from gateway_native.certs import dev_certificate
from gateway_native.codec import FrameType
from gateway_native.connection import Connection, Transport
from gateway_native.dispatch import Dispatcher
from gateway_native.listeners.quic import bind_udp, serve_quic, server_configuration
from gateway_native.listeners.tcp import bind_tcp, serve_tcp
from gateway_native.listeners.websocket import gate_route
from gateway_native.push import PushFrames, watch_revocations
from gateway_native.session import DisconnectCode, Limits, SessionObserver
from schema.build import Api

log = logging.getLogger(__name__)

TRANSPORTS = ("tcp", "quic", "gate")


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the composition root."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ListenError(RuntimeError):
    """A gateway port could not be bound."""


def raise_open_file_limit() -> int:
    """Every connection is a file: lift the soft limit to the hard one (the default soft
    limit, often 1024, would cap a gateway at about that many devices)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    log.info("open file limit: %s", soft)
    return int(soft)


class TransportObserver(SessionObserver):
    """Session counts into Prometheus, with the label children resolved once per transport."""

    def __init__(self, metrics: Metrics, transport: str) -> None:
        frames = metrics.gateway_frames
        self._in = {t: frames.labels(transport, "in", t.name) for t in FrameType}
        self._out = {t: frames.labels(transport, "out", t.name) for t in FrameType}
        self._errors = metrics.gateway_protocol_errors
        self._repaired = metrics.output_repaired.labels("native")
        self._transport = transport

    def frame_in(self, frame_type: FrameType) -> None:
        self._in[frame_type].inc()

    def frame_out(self, frame_type: FrameType) -> None:
        self._out[frame_type].inc()

    def protocol_error(self, kind: str) -> None:
        self._errors.labels(self._transport, kind).inc()

    def output_repaired(self, frame_type: FrameType, paths: list[str]) -> None:
        self._repaired.inc()
        log.error("native %s frame held text that cannot be encoded, at %s; sent repaired", frame_type.name, paths[:5])


@dataclass
class _Bound:
    listener: ListenerSettings
    address: tuple[str, int]
    sock: socket.socket | None = None  # None: a websocket listener served on the client port
    server: Any = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Gateway:
    def __init__(self, *, api: Api, services: Services) -> None:
        settings: Settings = services.settings
        self.settings = settings
        self.api = api
        self.services = services
        self.hub = services.hub
        self.dispatcher = Dispatcher(api, services)
        # PUSH frames are encoded once for every transport: repairs counted as the native door's.
        self.push_frames = PushFrames(api, on_repaired=TransportObserver(services.metrics, "push").output_repaired)
        gw = settings.gateway
        self.limits = Limits(
            max_frame_bytes=gw.max_frame_bytes,
            max_inflight_rpcs=gw.max_inflight_rpcs,
            auth_deadline_seconds=gw.auth_deadline_seconds,
            idle_timeout_seconds=gw.idle_timeout_seconds,
        )
        metrics = services.metrics
        self._observers = {t: TransportObserver(metrics, t) for t in TRANSPORTS}
        self._gauges = {t: metrics.connections_current.labels(t) for t in TRANSPORTS}
        self._disconnects = metrics.gateway_disconnects
        self.connections: set[Connection] = set()
        self._by_session: dict[int, set[Connection]] = defaultdict(set)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._bound: list[_Bound] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._shutting_down = False
        self._all_gone = asyncio.Event()
        # CONNECTs checked at once. A reconnect storm (every device after a restart) then
        # queues here, bounded by each connection's auth deadline, instead of taking every
        # database connection from the RPCs of devices already connected.
        self.admissions = asyncio.Semaphore(max(2, settings.database.pool_size // 2))

    # -- configuration ----------------------------------------------------------------------

    def _on_client_port(self, listener: ListenerSettings) -> bool:
        host, port = self.settings.listener_address(listener)
        return port == self.settings.http.ws_port and host == self.settings.host

    def routes(self) -> list[BaseRoute]:
        """/gate routes served by the GraphQL server on the client port."""
        return [
            gate_route(self, listener.path)
            for listener in self.settings.gateway.listeners
            if listener.protocol == "websocket" and self._on_client_port(listener)
        ]

    def bind(self, *, reuse_port: bool = False) -> None:
        """Bind every TCP/UDP port now, so a port in use is a clear error before serving.
        `reuse_port`: this process is one of several workers sharing the ports."""
        bound: list[_Bound] = []
        send_buffer = self.settings.messaging.socket_send_buffer_bytes
        for listener in self.settings.gateway.listeners:
            host, port = self.settings.listener_address(listener)
            entry = _Bound(listener, (host, port))
            try:
                if listener.protocol == "tcp":
                    entry.sock = bind_tcp(host, port, reuse_port=reuse_port, send_buffer=send_buffer)
                elif listener.protocol == "quic":
                    entry.sock = bind_udp(host, port, reuse_port=reuse_port)
                elif self._on_client_port(listener):
                    continue  # served by the GraphQL server (routes())
                else:  # a websocket listener on a port of its own
                    entry.sock = bind_tcp(host, port, reuse_port=reuse_port, send_buffer=send_buffer)
            except OSError as exc:
                for other in bound:
                    if other.sock is not None:
                        other.sock.close()
                reason = exc.strerror or str(exc)
                raise ListenError(f"cannot listen on {host}:{port} ({listener.protocol}): {reason}") from None
            bound.append(entry)
        self._bound = bound

    async def start(self) -> None:
        if self._bound is None:
            self.bind()
        assert self._bound is not None
        raise_open_file_limit()
        ready = asyncio.Event()
        self._watcher = asyncio.create_task(watch_revocations(self.services.bus, self.revoked, ready.set))
        await asyncio.wait_for(ready.wait(), 10)
        for bound in self._bound:
            protocol = bound.listener.protocol
            if protocol == "tcp":
                assert bound.sock is not None
                bound.server = await serve_tcp(self, bound.sock)
            elif protocol == "quic":
                assert bound.sock is not None
                cert, key = self._quic_material()
                config = server_configuration(cert, key, self.limits.idle_timeout_seconds)
                bound.server = await serve_quic(self, bound.sock, config)
            else:
                bound.server, bound.task = await self._serve_websocket(bound)
            log.info("native gateway listening: %s %s:%d", protocol, *bound.address)

    def _quic_material(self) -> tuple[Any, Any]:
        gw = self.settings.gateway
        if gw.quic_certificate is not None and gw.quic_private_key is not None:
            return gw.quic_certificate, gw.quic_private_key
        return dev_certificate(self.settings.data_dir)

    async def _serve_websocket(self, bound: _Bound) -> tuple[_Server, asyncio.Task[None]]:
        """A websocket listener on a port of its own: a small ASGI app with only /gate."""
        host, port = bound.address
        app = Starlette(routes=[gate_route(self, bound.listener.path)])
        config = uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None, access_log=False)
        server = _Server(config)
        assert bound.sock is not None
        task = asyncio.create_task(server.serve(sockets=[bound.sock]))
        while not server.started:
            if task.done():
                task.result()
                raise ListenError(f"cannot listen on {host}:{port} (websocket)")
            await asyncio.sleep(0.02)
        return server, task

    # -- connections ------------------------------------------------------------------------

    def observer(self, transport: str) -> SessionObserver:
        return self._observers[transport]

    def open(self, transport: Transport, *, label: str, ip: str | None) -> Connection:
        conn = Connection(self, transport, label=label, ip=ip)
        self.connections.add(conn)
        self._gauges[label].inc()
        if self._shutting_down:
            conn.begin_shutdown()
        return conn

    def joined(self, conn: Connection) -> None:
        """The connection authenticated: index it by device session for revocations."""
        assert conn.principal is not None
        self._by_session[conn.principal.session_id].add(conn)

    def left(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self._gauges[conn.label].dec()
            if not self.connections:
                self._all_gone.set()
        if conn.principal is not None:
            sessions = self._by_session.get(conn.principal.session_id)
            if sessions is not None:
                sessions.discard(conn)
                if not sessions:
                    del self._by_session[conn.principal.session_id]

    def closed_with(self, transport: str, code: str) -> None:
        self._disconnects.labels(transport, code).inc()

    def revoked(self, session_ids: list[int], reason: str) -> None:
        """Device sessions were revoked (on any process): close their connections here."""
        for session_id in session_ids:
            for conn in list(self._by_session.get(session_id, ())):
                conn.disconnect(DisconnectCode.SESSION_REVOKED, f"this device session was {reason}")

    def track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- shutdown ---------------------------------------------------------------------------

    async def shutdown(self, grace: float) -> None:
        """Stop accepting; let in-flight RPCs answer (up to `grace` seconds); then every
        connection gets DISCONNECT(SERVER_SHUTDOWN) so its client reconnects elsewhere."""
        if self._shutting_down:
            return
        self._shutting_down = True
        for bound in self._bound or ():
            if bound.listener.protocol == "tcp" and bound.server is not None:
                bound.server.close()
        self._all_gone.clear()
        for conn in list(self.connections):
            conn.begin_shutdown()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), grace if grace > 0 else None)
        for conn in list(self.connections):
            conn.disconnect(DisconnectCode.SERVER_SHUTDOWN, "server shutting down")
        # Give the DISCONNECT frames a moment to leave before the sockets go.
        await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Release everything (after `shutdown`, or on a failed start)."""
        self._shutting_down = True
        for conn in list(self.connections):
            conn.disconnect(DisconnectCode.SERVER_SHUTDOWN, "server shutting down")
        for bound in self._bound or ():
            server = bound.server
            if server is None and bound.sock is not None:
                bound.sock.close()  # bound but never served
            elif isinstance(server, asyncio.Server):
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2)
            elif isinstance(server, uvicorn.Server):
                server.should_exit = True
                if bound.task is not None:
                    with contextlib.suppress(Exception):
                        await bound.task
            elif server is not None:
                server.close()
        self._bound = []
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
