"""Native frames over TCP: an asyncio Protocol per connection (no streams, no extra
task), so an idle connection costs little memory."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway_native.connection import Connection
    from gateway_native.gateway import Gateway

BACKLOG = 4096  # reconnect storms after a restart arrive all at once
CLOSE_LINGER_SECONDS = 5.0  # how long a closing connection may take to flush to a peer that does not read


def bind_tcp(host: str, port: int, *, reuse_port: bool = False, send_buffer: int = 0) -> socket.socket:
    """`reuse_port`: several worker processes bind the same port (SO_REUSEPORT) and the
    kernel spreads new connections over them (`serve --workers N`). `send_buffer`: the
    kernel send buffer of every accepted connection (they inherit it; 0: the OS's own)."""
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
    except OSError:
        sock.close()
        raise
    return sock


async def serve_tcp(gateway: Gateway, sock: socket.socket) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: TcpProtocol(gateway), sock=sock, backlog=BACKLOG)


class TcpProtocol(asyncio.Protocol):
    """Also the connection's `Transport` (write/close), to keep one object per socket."""

    __slots__ = ("_conn", "_gateway", "_transport")

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._transport: asyncio.Transport | None = None
        self._conn: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._conn = self._gateway.open(self, label="tcp", ip=peer[0] if peer else None)

    def data_received(self, data: bytes) -> None:
        if self._conn is not None:
            self._conn.data_received(data)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._conn.connection_lost()
            self._conn = None

    def pause_writing(self) -> None:
        # The peer does not read: stop reading its requests too, so it cannot make us
        # buffer answers without bound.
        if self._transport is not None:
            self._transport.pause_reading()
        if self._conn is not None:
            self._conn.pause_writing()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()
        if self._conn is not None:
            self._conn.resume_writing()

    # Transport for the Connection

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.close()  # flushes what is buffered first (the DISCONNECT frame)...
            # ...unless the peer stops reading: then give up on it.
            asyncio.get_running_loop().call_later(CLOSE_LINGER_SECONDS, transport.abort)
