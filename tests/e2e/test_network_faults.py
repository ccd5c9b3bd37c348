"""Network trouble between a native client and the server, through a TCP proxy the test
controls: a half-open path (nothing arrives, no FIN) is detected on both sides, and a
connection cut in the middle of a frame leaves the server serving everyone else."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from gateway_native.client import Client
from gateway_native.client.connection import CONNECTION_LOST, NativeConnection
from gateway_native.client.transports import Endpoint
from tests.support.faults import TcpProxy, UdpProxy
from tests.support.server import ServerProcess

PASSWORD = "network-pass-1"
IDLE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(extra_env={"PRIVCHAT_GATEWAY__IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT)})


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", server.tcp_port).start()
    yield proxy
    proxy.close()


async def tcp_connections(server: ServerProcess) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{server.service_url}/metrics")).text
    for line in text.splitlines():
        if line.startswith('privchat_connections_current{transport="tcp"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def logged_in(endpoint: str, name: str, **kwargs: object) -> Client:
    client = Client(endpoint, device_id="phone", **kwargs)  # type: ignore[arg-type]
    await client.register(name, PASSWORD)
    await client.login(name, PASSWORD)
    return client


async def test_a_half_open_connection_is_detected_by_both_sides(server: ServerProcess, proxy: TcpProxy) -> None:
    client = await logged_in(
        f"tcp://127.0.0.1:{proxy.port}",
        f"half{uuid.uuid4().hex[:6]}",
        ping_interval=0.5,
        rpc_timeout=1.0,
        reconnect=False,
    )
    try:
        await client.start()
        assert await tcp_connections(server) >= 1
        before = await tcp_connections(server)
        proxy.freeze()
        frozen_at = time.monotonic()
        # The client: no PONG within its RPC timeout ends the connection (then it would reconnect).
        ended = await asyncio.wait_for(client.wait_ended(), 10)
        assert ended.code == CONNECTION_LOST
        assert time.monotonic() - frozen_at < 5
        # The server: no PING for the idle timeout closes its side, although no FIN came.
        deadline = time.monotonic() + IDLE_TIMEOUT + 10
        while await tcp_connections(server) >= before:
            assert time.monotonic() < deadline, "the server kept a half-open connection"
            await asyncio.sleep(0.2)
    finally:
        proxy.thaw()
        await client.close()


async def test_a_connection_cut_mid_frame_leaves_the_server_serving(server: ServerProcess, proxy: TcpProxy) -> None:
    other = await logged_in(f"tcp://127.0.0.1:{server.tcp_port}", f"oth{uuid.uuid4().hex[:6]}")
    try:
        await other.start()
        conn = await NativeConnection.open(Endpoint.parse(f"tcp://127.0.0.1:{proxy.port}"))
        # Half of an RPC frame (a length that promises 200 bytes, then 50), then RST.
        await conn.send_raw((200).to_bytes(4, "big") + b"\x03" + b"\x80" * 49)
        await asyncio.sleep(0.2)
        proxy.cut()
        await conn.close()
        # Everyone else is unaffected, and new connections are served.
        assert (await other.call("system/health"))["status"] == "ok"
        fresh = await logged_in(f"tcp://127.0.0.1:{server.tcp_port}", f"new{uuid.uuid4().hex[:6]}")
        await fresh.start()
        await fresh.close()
    finally:
        await other.close()


async def test_quic_survives_packet_loss_and_a_dead_path_is_detected(server: ServerProcess) -> None:
    proxy = UdpProxy("127.0.0.1", server.tcp_port).start()  # the QUIC listener shares the TCP port number
    endpoint = Endpoint.parse(f"quic://127.0.0.1:{proxy.port}", verify=False)
    name = f"quic{uuid.uuid4().hex[:6]}"
    client = Client(endpoint, device_id="phone", ping_interval=0.5, rpc_timeout=10.0, reconnect=False)
    try:
        await client.register(name, PASSWORD)
        await client.login(name, PASSWORD)
        await client.start()
        peer = await logged_in(f"tcp://127.0.0.1:{server.tcp_port}", f"peer{uuid.uuid4().hex[:6]}")
        await peer.close()
        channel = await client.open_direct(peer.user_id or "")
        # 20% of the datagrams lost each way: QUIC retransmits, every call is answered.
        proxy.loss = 0.2
        for i in range(10):
            assert (await client.send_text(channel, f"lossy-{i}", client_msg_id=f"lossy-{i}"))["pts"] == i + 1
        assert proxy.dropped > 0
        # Every datagram lost: the missing PONGs end the connection (then the SDK would reconnect).
        client.rpc_timeout = 1.0
        assert client.connection is not None
        client.connection.rpc_timeout = 1.0
        proxy.loss = 1.0
        ended = await asyncio.wait_for(client.wait_ended(), 15)
        assert ended.code == CONNECTION_LOST
        # The path back: a new connection works and finds every message.
        proxy.loss = 0.0
        again = Client(endpoint, device_id="phone")
        again.access_token = client.access_token
        await again.start()
        assert again.texts(channel) == [f"lossy-{i}" for i in range(10)]
        await again.close()
    finally:
        await client.close()
        proxy.close()
