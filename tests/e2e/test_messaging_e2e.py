"""Real server, real WebSocket clients: live delivery to every device, offline catch-up."""

from __future__ import annotations

import asyncio
import uuid

from tests.support.server import ServerProcess
from tests.support.sync_client import SyncClient

PASSWORD = "e2e-password-42"


async def user(server: ServerProcess, name: str, device: str, *, register: bool = True) -> SyncClient:
    client = SyncClient(server.base_url, name, PASSWORD, device)
    if register:
        await client.register()
    await client.login()
    return client


async def test_two_users_three_devices_with_one_offline_for_50_messages(live_server: ServerProcess) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann_phone = await user(live_server, f"ann{suffix}", "phone")
    ann_laptop = await user(live_server, f"ann{suffix}", "laptop", register=False)
    bob = await user(live_server, f"bob{suffix}", "phone")
    try:
        channel = await ann_phone.open_direct(bob.user_id or "")
        await ann_phone.connect()
        await bob.connect()
        # ann's laptop is logged in but offline while 50 messages flow both ways
        for i in range(50):
            sender = bob if i % 3 else ann_phone
            await sender.send_text(channel, f"m{i}")
        await ann_phone.wait_for(channel, 50)
        await bob.wait_for(channel, 50)
        expected = [f"m{i}" for i in range(50)]
        assert ann_phone.texts(channel) == expected
        assert bob.texts(channel) == expected
        assert ann_phone.live_applied + bob.live_applied >= 50  # delivered live, not only by sync
        # the laptop comes online and receives exactly those 50, in order, once
        await ann_laptop.connect()
        assert ann_laptop.texts(channel) == expected
        assert ann_laptop.channel_pts[channel] == 50
        # and from now on it is live too, including messages from ann's other device
        await ann_phone.send_text(channel, "from the phone")
        await ann_laptop.wait_for(channel, 51)
        assert ann_laptop.texts(channel)[-1] == "from the phone"
        assert ann_laptop.live_applied >= 1
        # a retry of an acknowledged message stores nothing new
        again = await ann_phone.send_text(channel, "retry", client_msg_id="fixed-id")
        same = await ann_phone.send_text(channel, "retry changed", client_msg_id="fixed-id")
        assert again == same
        await bob.wait_for(channel, 52)
        await asyncio.sleep(0.3)
        assert bob.channel_pts[channel] == 52 and bob.texts(channel)[-1] == "retry"
    finally:
        for c in (ann_phone, ann_laptop, bob):
            await c.close()


async def test_reconnecting_device_receives_only_what_it_missed(live_server: ServerProcess) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann = await user(live_server, f"ann{suffix}", "phone")
    bob = await user(live_server, f"bob{suffix}", "phone")
    try:
        channel = await ann.open_direct(bob.user_id or "")
        await ann.connect()
        await bob.connect()
        for i in range(5):
            await ann.send_text(channel, f"a{i}")
        await bob.wait_for(channel, 5)
        await bob.disconnect()
        for i in range(7):
            await ann.send_text(channel, f"b{i}")
        await bob.connect()  # incremental: from its local pts and last sync time
        assert bob.texts(channel) == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(7)]
    finally:
        await ann.close()
        await bob.close()
