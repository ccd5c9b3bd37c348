"""`messaging.socket_send_buffer_bytes`: the kernel send buffer of every client connection,
set on the listening sockets of the client port and the native TCP listeners, which the
accepted connections inherit (what a device that stops reading can hold in the kernel)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from app.main import bind
from gateway_native.listeners.tcp import bind_tcp


@pytest.mark.parametrize("bind_listener", [bind, bind_tcp])
def test_accepted_connections_inherit_the_send_buffer(bind_listener: Callable[..., socket.socket]) -> None:
    default = bind_listener("127.0.0.1", 0)
    small = bind_listener("127.0.0.1", 0, send_buffer=16384)
    try:
        for listener in (default, small):
            listener.listen()
        sizes = []
        for listener in (default, small):
            with socket.create_connection(listener.getsockname()) as client:
                accepted, _ = listener.accept()
                with accepted:
                    sizes.append(accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
                client.close()
    finally:
        default.close()
        small.close()
    assert sizes[1] == 2 * 16384  # Linux doubles what is asked (bookkeeping overhead)
    assert sizes[0] != sizes[1]
