"""Client side byte streams to the gateway: TCP, QUIC (one bidirectional stream) and
binary WebSocket. Each gives `send`, `receive` (b"" at the end) and `close`."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

ALPN = "privchat"


class ClientTransport(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> bytes:
        """The next bytes from the server; b"" once the stream has ended."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Endpoint:
    """Where the gateway listens: `tcp://host:9001`, `quic://host:9001`, `ws://host:9080/gate`."""

    transport: str  # "tcp" | "quic" | "ws" | "wss"
    host: str
    port: int
    path: str = "/gate"
    cafile: str | None = None  # QUIC/wss: trust this certificate (e.g. the server's dev certificate)
    verify: bool = True  # QUIC/wss: False accepts any certificate (development only)
    server_name: str | None = None  # QUIC/wss: name to verify; default: host
    source_host: str | None = None  # TCP: local address to connect from (load generators)
    connect_timeout: float = 10.0

    @classmethod
    def parse(cls, url: str, **options: Any) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("tcp", "quic", "ws", "wss") or not parts.hostname or not parts.port:
            raise ValueError(f"not a gateway URL: {url!r} (tcp://host:port, quic://host:port, ws://host:port/gate)")
        return cls(parts.scheme, parts.hostname, parts.port, parts.path or "/gate", **options)

    def __str__(self) -> str:
        tail = self.path if self.transport in ("ws", "wss") else ""
        return f"{self.transport}://{self.host}:{self.port}{tail}"


async def open_transport(endpoint: Endpoint) -> ClientTransport:
    opener = {"tcp": _open_tcp, "quic": _open_quic, "ws": _open_websocket, "wss": _open_websocket}[endpoint.transport]
    return await asyncio.wait_for(opener(endpoint), endpoint.connect_timeout)


class TcpTransport:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def receive(self) -> bytes:
        try:
            return await self._reader.read(65536)
        except (ConnectionError, OSError):
            return b""

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


async def _open_tcp(endpoint: Endpoint) -> ClientTransport:
    local = (endpoint.source_host, 0) if endpoint.source_host else None
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port, local_addr=local, limit=1 << 20)
    return TcpTransport(reader, writer)


class QuicTransport:
    def __init__(self, protocol: Any, context: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._protocol = protocol
        self._context = context  # aioquic's connect() context manager, exited on close
        self._reader = reader
        self._writer = writer

    async def send(self, data: bytes) -> None:
        self._writer.write(data)

    async def receive(self) -> bytes:
        try:
            return await self._reader.read(65536)
        except (ConnectionError, OSError):
            return b""

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._protocol.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._context.__aexit__(None, None, None), 2)


async def _open_quic(endpoint: Endpoint) -> ClientTransport:
    from aioquic.asyncio.client import connect
    from aioquic.quic.configuration import QuicConfiguration

    config = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name=endpoint.server_name or endpoint.host)
    if endpoint.cafile:
        config.load_verify_locations(endpoint.cafile)
    if not endpoint.verify:
        config.verify_mode = ssl.CERT_NONE
    context = connect(endpoint.host, endpoint.port, configuration=config)
    protocol = await context.__aenter__()
    try:
        reader, writer = await protocol.create_stream()
    except BaseException:
        await context.__aexit__(None, None, None)
        raise
    return QuicTransport(protocol, context, reader, writer)


class WebSocketTransport:
    def __init__(self, ws: Any) -> None:
        self._ws = ws

    async def send(self, data: bytes) -> None:
        await self._ws.send(data)

    async def receive(self) -> bytes:
        try:
            message = await self._ws.recv()
        except Exception:  # closed, by either side
            return b""
        return message if isinstance(message, bytes) else message.encode()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), 2)


async def _open_websocket(endpoint: Endpoint) -> ClientTransport:
    import websockets

    options: dict[str, Any] = {}
    if endpoint.transport == "wss":
        context = ssl.create_default_context(cafile=endpoint.cafile)
        if not endpoint.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        options["ssl"] = context
    url = f"{endpoint.transport}://{endpoint.host}:{endpoint.port}{endpoint.path}"
    # The gateway limits frame sizes itself; one message may carry several frames.
    ws = await websockets.connect(url, subprotocols=[ALPN], max_size=None, **options)  # type: ignore[list-item]
    return WebSocketTransport(ws)
