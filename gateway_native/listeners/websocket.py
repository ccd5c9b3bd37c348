"""Native frames over binary WebSocket at /gate (for clients that can only open
WebSockets: browsers, restrictive networks).

The binary messages form one byte stream, exactly like a TCP connection: a message may
hold several frames or part of one. The server sends each frame as one message. Text
messages are a protocol error.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import TYPE_CHECKING

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from gateway_native.connection import Connection
    from gateway_native.gateway import Gateway

SUBPROTOCOL = "privchat"
HIGH_WATER = 256 * 1024  # bytes queued for a client before we stop reading from it
LOW_WATER = 64 * 1024


def gate_route(gateway: Gateway, path: str) -> WebSocketRoute:
    async def endpoint(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        transport = WebSocketTransport(websocket)
        ip = websocket.client.host if websocket.client else None
        conn = gateway.open(transport, label="gate", ip=ip)
        transport.attach(conn)
        try:
            await _read(websocket, transport, conn)
        finally:
            conn.connection_lost()
            await transport.finish()

    return WebSocketRoute(path, endpoint)


async def _read(websocket: WebSocket, transport: WebSocketTransport, conn: Connection) -> None:
    while not conn.closed:
        await transport.drained()
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            conn.disconnect("PROTOCOL_ERROR", "the gateway takes binary WebSocket messages only")
            return
        conn.data_received(data)


class WebSocketTransport:
    """Buffered writes for the Connection; one writer task keeps frames in order."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._queue: collections.deque[bytes] = collections.deque()
        self._pending = 0
        self._wakeup = asyncio.Event()
        self._below_high = asyncio.Event()
        self._below_high.set()
        self._closing = False
        self._conn: Connection | None = None
        self._writer = asyncio.create_task(self._write_all())

    def attach(self, conn: Connection) -> None:
        self._conn = conn

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        self._queue.append(data)
        self._pending += len(data)
        if self._pending > HIGH_WATER and self._below_high.is_set():
            self._below_high.clear()
            if self._conn is not None:
                self._conn.pause_writing()
        self._wakeup.set()

    def close(self) -> None:
        self._closing = True
        self._wakeup.set()

    async def drained(self) -> None:
        await self._below_high.wait()

    async def finish(self) -> None:
        self.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._writer), 5)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer

    async def _write_all(self) -> None:
        try:
            while True:
                while self._queue:
                    data = self._queue.popleft()
                    await self._websocket.send_bytes(data)
                    self._pending -= len(data)
                    if self._pending < LOW_WATER and not self._below_high.is_set():
                        self._below_high.set()
                        if self._conn is not None:
                            self._conn.resume_writing()
                if self._closing:
                    await self._websocket.close(code=1000)
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
        except Exception:
            # The client went away mid-write; the reader sees the disconnect.
            self._below_high.set()
