"""Native frames over QUIC (aioquic; TLS 1.3, ALPN "privchat").

The client opens one bidirectional stream (the first, id 0) and both sides use it as
the byte stream that TCP would be; the framing is the same. QUIC adds no framing of its
own here: stream boundaries mean nothing, as on TCP.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamDataReceived, StreamReset

if TYPE_CHECKING:
    from gateway_native.connection import Connection
    from gateway_native.gateway import Gateway

ALPN = "privchat"
# After DISCONNECT the client closes the QUIC connection; if it does not, we do.
CLOSE_LINGER_SECONDS = 2.0
QUIC_ERROR_PROTOCOL = 0x100  # application error code: the peer broke the privchat protocol


def bind_udp(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """`reuse_port`: one socket per worker process on the same port; the kernel hashes
    each peer address to one of them, so a QUIC connection stays with one worker (as
    long as the client's address does not change)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def server_configuration(certificate: Path, private_key: Path, idle_timeout: float) -> QuicConfiguration:
    config = QuicConfiguration(
        is_client=False,
        alpn_protocols=[ALPN],
        # The protocol's own idle timeout (PING/PONG) decides; QUIC's must not fire first.
        idle_timeout=idle_timeout + 30.0,
    )
    config.load_cert_chain(str(certificate), str(private_key))
    return config


async def serve_quic(gateway: Gateway, sock: socket.socket, configuration: QuicConfiguration) -> QuicServer:
    loop = asyncio.get_running_loop()
    quic_log = logging.getLogger("quic")
    if not quic_log.isEnabledFor(logging.DEBUG):
        # aioquic logs every handshake and close at INFO: noise at thousands of connections.
        quic_log.setLevel(logging.WARNING)

    def create_protocol(quic: Any, **kwargs: Any) -> GatewayQuicProtocol:
        return GatewayQuicProtocol(quic, gateway=gateway, **kwargs)

    _, server = await loop.create_datagram_endpoint(
        lambda: QuicServer(configuration=configuration, create_protocol=create_protocol), sock=sock
    )
    return server


class GatewayQuicProtocol(QuicConnectionProtocol):
    """One QUIC connection; also the `Transport` of its gateway connection."""

    def __init__(self, quic: Any, *, gateway: Gateway, **kwargs: Any) -> None:
        super().__init__(quic, **kwargs)
        self._gateway = gateway
        self._stream_id: int | None = None
        self._conn: Connection | None = None
        self._flush: asyncio.Handle | None = None
        self._closing = False
        self._peer: str | None = None

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        if self._peer is None:
            self._peer = str(addr[0])
        super().datagram_received(data, addr)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived):
            self._stream_data(event)
        elif isinstance(event, StreamReset) and event.stream_id == self._stream_id:
            self._lost()
        elif isinstance(event, ConnectionTerminated):
            self._lost()

    def _stream_data(self, event: StreamDataReceived) -> None:
        if self._stream_id is None:
            if event.stream_id % 4 != 0:  # not client-initiated bidirectional
                self.close(error_code=QUIC_ERROR_PROTOCOL, reason_phrase="use a bidirectional stream")
                return
            self._stream_id = event.stream_id
            self._conn = self._gateway.open(self, label="quic", ip=self._peer)
        conn = self._conn
        if conn is None:
            return
        if event.stream_id != self._stream_id:
            conn.disconnect("PROTOCOL_ERROR", "frames go on the first bidirectional stream only")
            return
        if event.data:
            conn.data_received(event.data)
        if event.end_stream:
            self._lost()

    def _lost(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.connection_lost()

    # Transport for the Connection

    def write(self, data: bytes) -> None:
        if self._stream_id is None or self._closing:
            return
        self._quic.send_stream_data(self._stream_id, data)
        self._schedule_flush()

    def close(self, error_code: int = 0, reason_phrase: str = "") -> None:  # type: ignore[override]
        if error_code:
            super().close(error_code=error_code, reason_phrase=reason_phrase)
            return
        if self._closing:
            return
        self._closing = True
        if self._stream_id is not None:
            # FIN after the DISCONNECT frame; closing the connection now would drop stream
            # data not yet sent, so the client closes it, or the linger timer does.
            self._quic.send_stream_data(self._stream_id, b"", end_stream=True)
            self._schedule_flush()
        self._loop.call_later(CLOSE_LINGER_SECONDS, super().close)

    def _schedule_flush(self) -> None:
        # One transmit per loop iteration, however many frames were written in it.
        if self._flush is None:
            self._flush = self._loop.call_soon(self._do_flush)

    def _do_flush(self) -> None:
        self._flush = None
        self.transmit()
