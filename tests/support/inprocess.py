"""A real server inside the test's own process and event loop: the client port (GraphQL
over HTTP/WebSocket) and a native TCP listener on free loopback ports, with the services
the test can also call directly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from app import runtime
from app.config import Settings
from tests.support.hangs import bounded
from tests.support.server import free_port


@dataclass
class InProcessServer:
    settings: Settings
    app: Any  # app.main.App
    ws_url: str
    tcp_port: int

    @property
    def services(self) -> runtime.Services:
        return self.app.services


@contextlib.asynccontextmanager
async def serving(settings_factory: Callable[..., Settings]) -> AsyncIterator[InProcessServer]:
    from app.main import bind, build_app

    ws_port, tcp_port = free_port(), free_port()
    settings = settings_factory(
        http={"ws_port": ws_port, "port": free_port()},
        gateway={"tcp_port": tcp_port, "listeners": [{"protocol": "tcp", "host": "127.0.0.1"}]},
    )
    app = build_app(settings)
    sock = bind("127.0.0.1", ws_port)
    await runtime.start(app.services)
    await app.gateway.start()
    server = app.servers[0]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(2000):  # uvicorn says it started by a flag only
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield InProcessServer(settings, app, f"ws://127.0.0.1:{ws_port}/graphql", tcp_port)
    finally:
        await app.gateway.close()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
        sock.close()
        await bounded(runtime.stop(app.services), "stopping the services")
