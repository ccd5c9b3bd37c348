"""A real server process and the Python SDK over each transport (TCP, QUIC, WebSocket):
log in over the gateway, send, receive the push on another device, kick, log in again
and resync; reconnect with backoff after a dropped connection."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway_native.client import Client, Endpoint
from tests.support.server import ServerProcess

PASSWORD = "gateway-e2e-pass-1"
TRANSPORTS = ["tcp", "quic", "ws"]


def endpoint(server: ServerProcess, transport: str) -> Endpoint:
    if transport == "ws":
        return Endpoint("ws", "127.0.0.1", server.ws_port, "/gate")
    if transport == "quic":
        # The server's self-signed development certificate, trusted explicitly (verified, not skipped).
        return Endpoint("quic", "127.0.0.1", server.tcp_port, cafile=str(server.data_dir / "quic-dev-cert.pem"))
    return Endpoint("tcp", "127.0.0.1", server.tcp_port)


async def device(server: ServerProcess, transport: str, username: str, device_id: str, *, register: bool) -> Client:
    client = Client(endpoint(server, transport), device_id=device_id, platform="android", backoff_initial=0.05)
    if register:
        await client.register(username, PASSWORD)
    await client.login(username, PASSWORD)
    return client


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_send_push_kick_login_again_and_resync(live_server: ServerProcess, transport: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann = await device(live_server, transport, f"ann{suffix}", "phone", register=True)
    bob_phone = await device(live_server, transport, f"bob{suffix}", "phone", register=True)
    bob_tablet = await device(live_server, transport, f"bob{suffix}", "tablet", register=False)
    try:
        await ann.start()
        await bob_phone.start()
        await bob_tablet.start()
        assert bob_phone.user_id is not None
        channel = await ann.open_direct(bob_phone.user_id)
        for i in range(5):
            await ann.send_text(channel, f"m{i}")
        async with asyncio.timeout(20):
            await bob_phone.wait_for(channel, 5)
            await bob_tablet.wait_for(channel, 5)
        expected = [f"m{i}" for i in range(5)]
        assert bob_phone.texts(channel) == bob_tablet.texts(channel) == expected
        assert bob_phone.live_applied == bob_tablet.live_applied == 5  # pushed, not synced

        # The phone kicks the tablet: its live connection is told at once, with the reason.
        await bob_phone.call("device/kick", {"deviceId": "tablet"})
        async with asyncio.timeout(20):
            ended = await bob_tablet.wait_ended()
        assert (ended.code, ended.reason) == ("SESSION_REVOKED", "this device session was kicked")

        for i in range(5, 8):
            await ann.send_text(channel, f"m{i}")

        # Logged in again, the tablet catches up from its own pts: the three it missed, once, in order.
        await bob_tablet.login(f"bob{suffix}", PASSWORD)
        await bob_tablet.start()
        assert bob_tablet.texts(channel) == [f"m{i}" for i in range(8)]
        assert bob_tablet.live_applied == 5
        await ann.send_text(channel, "live again")
        async with asyncio.timeout(20):
            await bob_tablet.wait_for(channel, 9)
        assert bob_tablet.texts(channel)[-1] == "live again"
        assert bob_tablet.live_applied == 6
    finally:
        for client in (ann, bob_phone, bob_tablet):
            await client.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_dropped_connection_reconnects_with_backoff_and_resyncs(
    live_server: ServerProcess, transport: str
) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann = await device(live_server, transport, f"ann{suffix}", "phone", register=True)
    bob = await device(live_server, transport, f"bob{suffix}", "phone", register=True)
    try:
        await ann.start()
        await bob.start()
        assert bob.user_id is not None
        channel = await ann.open_direct(bob.user_id)
        await ann.send_text(channel, "before")
        async with asyncio.timeout(20):
            await bob.wait_for(channel, 1)
        # The network goes away under bob (no DISCONNECT frame): the SDK reconnects by itself.
        connection = bob.connection
        assert connection is not None
        await connection.send_raw(b"")  # still writable
        await connection._transport.close()
        for i in range(4):
            await ann.send_text(channel, f"during {i}")
        async with asyncio.timeout(20):
            await bob.wait_for(channel, 5)
            while bob.connects < 2:  # the sync of the new connection may finish before it is ready
                await bob.wait_ready()
                await asyncio.sleep(0.01)
        assert bob.texts(channel) == ["before"] + [f"during {i}" for i in range(4)]
        assert bob.connects == 2
        assert bob.disconnects[0].code == "CONNECTION_LOST"
        assert bob.ended is None
    finally:
        await ann.close()
        await bob.close()
