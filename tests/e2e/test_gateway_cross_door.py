"""A GraphQL client (HTTP + graphql-transport-ws, tests/support/sync_client.py) and a
native gateway client chat with each other through one real server: the two doors
share users, channels, pts and the live stream."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway_native.client import Client, Endpoint, RpcError
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


async def test_a_native_client_befriends_whom_its_search_found(live_server: ServerProcess) -> None:
    """The SDK carries the search result's proof into the request; without one, the native
    door answers exactly as for a user who does not exist."""
    suffix = uuid.uuid4().hex[:6]
    web = SyncClient(live_server.base_url, f"sweb{suffix}", PASSWORD, "browser")
    await web.register()
    await web.login()
    phone = Client(Endpoint("tcp", "127.0.0.1", live_server.tcp_port), device_id="phone", platform="ios")
    await phone.register(f"sphone{suffix}", PASSWORD)
    await phone.login(f"sphone{suffix}", PASSWORD)
    try:
        await phone.start()
        [found] = await phone.search_users(f"sweb{suffix}")
        assert found["user"]["id"] == web.user_id and found["searchProof"]
        refusals = []
        for args in ({}, {"searchProof": found["searchProof"] + "x"}, {"userId": "987654321987"}):
            with pytest.raises(RpcError) as refused:
                await phone.call("contact/friend/apply", {"userId": web.user_id, "source": "SEARCH", **args})
            refusals.append((refused.value.code, refused.value.message))
        assert refusals == [("NOT_FOUND", "user not found")] * 3
        applied = await phone.apply_friend(found, "found you")
        assert applied["outcome"] == "PENDING" and applied["request"]["source"] == "SEARCH"
        accepted = await web.gql(
            "mutation($u: ID!) { contactFriendAccept(input: {userId: $u}) { channelId } }", {"u": phone.user_id}
        )
        assert accepted["contactFriendAccept"]["channelId"]
    finally:
        await web.close()
        await phone.close()
