"""SIGTERM with native clients connected over TCP, QUIC and WebSocket: each is told
DISCONNECT(SERVER_SHUTDOWN) (so it reconnects elsewhere), then the process exits 0."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Callable

import pytest

from gateway_native.client import Client, Endpoint, NativeConnection
from tests.support.server import ServerProcess

PASSWORD = "shutdown-pass-1"


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory()


async def test_sigterm_sends_server_shutdown_to_every_native_connection(server: ServerProcess) -> None:
    endpoints = [
        Endpoint("tcp", "127.0.0.1", server.tcp_port),
        Endpoint("quic", "127.0.0.1", server.tcp_port, cafile=str(server.data_dir / "quic-dev-cert.pem")),
        Endpoint("ws", "127.0.0.1", server.ws_port, "/gate"),
    ]
    name = f"sd{uuid.uuid4().hex[:6]}"
    setup = Client(endpoints[0], device_id="setup", ping_interval=None)
    await setup.register(name, PASSWORD)
    await setup.login(name, PASSWORD)
    connections: list[NativeConnection] = []
    for i, where in enumerate(endpoints):
        conn = await NativeConnection.open(where, ping_interval=None)
        login = await conn.call(
            "account/auth/login", {"username": name, "password": PASSWORD, "deviceId": f"d{i}", "platform": "linux"}
        )
        await conn.connect(login["accessToken"], device_id=f"d{i}")
        await conn.call("sync/session_ready")
        connections.append(conn)
    await setup.close()

    server.signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        ends = [await conn.wait_closed() for conn in connections]
    assert [(e.code, e.reason) for e in ends] == [("SERVER_SHUTDOWN", "server shutting down")] * 3
    for conn in connections:
        await conn.close()
    assert await asyncio.to_thread(server.wait, 30) == 0, server.log()
