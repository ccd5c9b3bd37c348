"""Real server, real WebSocket clients: reactions, pins and forwards reach the other
devices live, and an offline device through sync."""

from __future__ import annotations

import uuid

from tests.support.server import ServerProcess
from tests.support.sync_client import SyncClient

PASSWORD = "e2e-password-42"
REACT = "mutation($m: ID!, $e: String!) { messageReactionAdd(input: {messageId: $m, emoji: $e}) { changed pts } }"
UNREACT = "mutation($m: ID!, $e: String!) { messageReactionRemove(input: {messageId: $m, emoji: $e}) { changed pts } }"
PIN = "mutation($m: ID!) { messagePin(input: {messageId: $m}) { pts } }"
FORWARD = """mutation($r: String!, $m: [ID!]!, $c: [ID!]!) { messageForward(input: {requestId: $r, messageIds: $m, channelIds: $c}) {
  results { ok messages { pts } } } }"""


async def user(server: ServerProcess, name: str, device: str, *, register: bool = True) -> SyncClient:
    client = SyncClient(server.base_url, name, PASSWORD, device)
    if register:
        await client.register()
    await client.login()
    return client


async def test_reactions_and_pins_reach_live_devices_and_an_offline_one(live_server: ServerProcess) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann = await user(live_server, f"ann{suffix}", "phone")
    bob_phone = await user(live_server, f"bob{suffix}", "phone")
    bob_laptop = await user(live_server, f"bob{suffix}", "laptop", register=False)  # offline for now
    try:
        channel = await ann.open_direct(bob_phone.user_id or "")
        await ann.connect()
        await bob_phone.connect()
        message = (await ann.send_text(channel, "react to me"))["id"]
        await bob_phone.wait_for(channel, 1)
        assert (await bob_phone.gql(REACT, {"m": message, "e": "👍"}))["messageReactionAdd"]["pts"] == 2
        await ann.gql(REACT, {"m": message, "e": "🎉"})
        await ann.gql(UNREACT, {"m": message, "e": "🎉"})
        await ann.gql(PIN, {"m": message})
        for client in (ann, bob_phone):
            await client.wait_for(channel, 5)
            assert client.reactions[message] == {(bob_phone.user_id, "👍")}
            assert client.pins[channel] == {message}
        assert ann.live_applied >= 4 and bob_phone.live_applied >= 4  # live, not only by sync
        # the laptop comes online and converges through sync
        await bob_laptop.connect()
        assert bob_laptop.channel_pts[channel] == 5
        assert bob_laptop.reactions[message] == {(bob_phone.user_id, "👍")}
        assert bob_laptop.pins[channel] == {message}
        assert bob_laptop.texts(channel) == ["react to me"]
    finally:
        for c in (ann, bob_phone, bob_laptop):
            await c.close()


async def test_a_forward_reaches_the_target_channel_live(live_server: ServerProcess) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann = await user(live_server, f"ann{suffix}", "phone")
    bob = await user(live_server, f"bob{suffix}", "phone")
    carl = await user(live_server, f"carl{suffix}", "phone")
    try:
        source = await ann.open_direct(bob.user_id or "")
        target = await ann.open_direct(carl.user_id or "")
        await carl.connect()
        first = (await bob.send_text(source, "one"))["id"]
        second = (await bob.send_text(source, "two"))["id"]
        data = await ann.gql(FORWARD, {"r": "e2e-fw", "m": [second, first], "c": [target]})
        assert data["messageForward"]["results"] == [{"ok": True, "messages": [{"pts": 1}, {"pts": 2}]}]
        await carl.wait_for(target, 2)
        assert carl.texts(target) == ["one", "two"]
    finally:
        for c in (ann, bob, carl):
            await c.close()
