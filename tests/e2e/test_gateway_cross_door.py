"""A GraphQL client (HTTP + graphql-transport-ws, tests/support/sync_client.py) and a
native gateway client chat with each other through one real server: the two doors
share users, channels, pts and the live stream."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway_native.client import Client, Endpoint
from tests.support.server import ServerProcess
from tests.support.sync_client import SyncClient

PASSWORD = "cross-door-pass-1"


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_graphql_and_native_clients_chat(live_server: ServerProcess, transport: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    web = SyncClient(live_server.base_url, f"web{suffix}", PASSWORD, "browser")
    await web.register()
    await web.login()
    if transport == "tcp":
        where = Endpoint("tcp", "127.0.0.1", live_server.tcp_port)
    else:
        where = Endpoint("ws", "127.0.0.1", live_server.ws_port, "/gate")
    phone = Client(where, device_id="phone", platform="ios")
    await phone.register(f"phone{suffix}", PASSWORD)
    await phone.login(f"phone{suffix}", PASSWORD)
    try:
        await web.connect()
        await phone.start()
        assert phone.user_id is not None
        channel = await web.open_direct(phone.user_id)
        assert await phone.open_direct(web.user_id or "") == channel  # the same channel from both doors
        for i in range(6):
            if i % 2:
                await phone.send_text(channel, f"native {i}")
            else:
                await web.send_text(channel, f"graphql {i}")
        async with asyncio.timeout(20):
            await web.wait_for(channel, 6)
            await phone.wait_for(channel, 6)
        expected = [f"{'native' if i % 2 else 'graphql'} {i}" for i in range(6)]
        assert web.texts(channel) == phone.texts(channel) == expected
        assert web.live_applied == 6 and phone.live_applied == 6  # both live streams carried every message
        # the same message objects: ids, pts and senders agree across the doors
        assert [(m["id"], m["pts"], m["senderId"]) for m in web.messages[channel]] == [
            (m["id"], m["pts"], m["senderId"]) for m in phone.messages[channel]
        ]
    finally:
        await web.close()
        await phone.close()
