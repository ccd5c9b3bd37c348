"""Graceful shutdown of a real server process on SIGTERM and SIGINT.

The in-flight request is a login whose body the test holds back: the server has
the request (headers and part of the body) when the signal arrives and cannot
finish it before the test sends the rest, so "stops accepting while a request is
in flight" is checked without racing a clock. The password hash is made slow
(about a second of argon2id) so the request also does real work after the signal.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess

PASSWORD = "slow-hash-pass-7"
SLOW_HASH = {
    "PRIVCHAT_SECURITY__PASSWORD_HASH_TIME_COST": "8",
    "PRIVCHAT_SECURITY__PASSWORD_HASH_MEMORY_KIB": "131072",
}
REGISTER = (
    "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }"
)
LOGIN = """mutation($u: String!, $p: String!) {
  accountAuthLogin(input: {username: $u, password: $p, deviceId: "d-1", deviceName: "Test", platform: "linux"}) {
    accessToken user { id }
  }
}"""


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def request_bytes(port: int, payload: dict[str, Any]) -> tuple[bytes, bytes]:
    """(headers, body) of a GraphQL POST on a keep-alive connection."""
    body = json.dumps(payload).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_accepting_finishes_the_in_flight_request_and_exits_0(
    server_factory: Callable[..., ServerProcess], sig: signal.Signals
) -> None:
    server = server_factory(extra_env=SLOW_HASH)
    username = f"slow{sig.value}"
    registered = httpx.post(
        server.graphql_url, json={"query": REGISTER, "variables": {"u": username, "p": PASSWORD}}, timeout=60
    )
    assert registered.status_code == 200 and "errors" not in registered.json(), registered.text

    with (
        socket.create_connection(("127.0.0.1", server.ws_port), timeout=60) as busy,
        socket.create_connection(("127.0.0.1", server.ws_port), timeout=60) as idle,
    ):
        # Both connections have been accepted and served once: they are the server's now.
        for conn in (busy, idle):
            head, body = request_bytes(server.ws_port, {"query": "{ __typename }"})
            conn.sendall(head + body)
            assert read_response(conn) == (200, {"data": {"__typename": "Query"}})

        head, body = request_bytes(server.ws_port, {"query": LOGIN, "variables": {"u": username, "p": PASSWORD}})
        busy.sendall(head + body[:20])
        time.sleep(0.3)  # let the server read the request's headers before the signal
        server.signal(sig)

        assert wait_until(lambda: refuses_connections(server.ws_port)), "GraphQL port still accepts"
        assert wait_until(lambda: refuses_connections(server.http_port)), "service port still accepts"
        assert server.proc is not None and server.proc.poll() is None, "exited with a request in flight"
        assert idle.recv(1) == b"", "an idle keep-alive connection is closed at shutdown"

        busy.sendall(body[20:])
        status, reply = read_response(busy)
        assert status == 200 and "errors" not in reply, reply
        assert reply["data"]["accountAuthLogin"]["accessToken"] and reply["data"]["accountAuthLogin"]["user"]["id"]

    assert server.wait(timeout=60) == 0, server.log()
    assert refuses_connections(server.ws_port) and refuses_connections(server.http_port)
    assert "PrivChat stopped" in server.log()
