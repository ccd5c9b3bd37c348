"""A profile change arrives live on both doors (a GraphQL `events` subscriber and native
PUSH), on every device of everyone who sees the profile, with what each may see; a
stranger gets nothing. A real server in this process, on real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import websockets

from app import runtime
from app.accounts.service import ProfileChanges
from app.config import Settings
from app.groups.service import SettingsChanges
from gateway_native.client import Client, Endpoint, NativeConnection
from tests.support import factories
from tests.support.factories import Account
from tests.support.inprocess import serving
from tests.support.social import searched

EVENTS = """subscription { events { __typename ... on UserUpdateEvent { seq }
  ... on UserProfileChangedEvent { userId displayName avatarFileId profile { username bio } } } }"""


MARKER = {"type": "resync_required", "reason": "test marker"}


@dataclass
class Running:
    services: runtime.Services
    ws_url: str
    endpoint: Endpoint

    async def native(self, account: Account) -> NativeConnection:
        conn = await NativeConnection.open(self.endpoint, ping_interval=None, rpc_timeout=20)
        await conn.connect(account.access_token, device_id=account.device_id)
        await conn.call("sync/session_ready")
        return conn


@pytest.fixture
async def running(settings_factory: Callable[..., Settings]) -> AsyncIterator[Running]:
    async with serving(settings_factory) as server:
        yield Running(server.services, server.ws_url, Endpoint("tcp", "127.0.0.1", server.tcp_port))


@contextlib.asynccontextmanager
async def subscriber(
    services: runtime.Services, url: str, account: Account
) -> AsyncIterator[websockets.ClientConnection]:
    """A graphql-transport-ws `events` subscription, live once this returns: a marker sent
    through the hub has come back over it."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {account.access_token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))
        async with asyncio.timeout(10):
            while True:
                await services.hub.deliver([account.user_id], MARKER)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(next_over_graphql(ws, "ResyncRequiredEvent"), 0.2)
                    break
        yield ws


async def next_over_graphql(ws: websockets.ClientConnection, typename: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "next" and message["payload"]["data"]["events"]["__typename"] == typename:
                return message["payload"]["data"]["events"]


async def next_push(conn: NativeConnection, typename: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            event = await conn.pushes.get()
            if event["__typename"] == typename:
                return event


async def befriend(services: runtime.Services, a: Account, b: Account) -> None:
    proof = await searched(services, a, b)
    await services.contacts.apply(a.principal, user_id=b.user_id, message=None, source="search", search_proof=proof)
    await services.contacts.accept(b.principal, user_id=a.user_id)


async def test_a_rename_reaches_friends_members_and_own_devices_live_on_both_doors(running: Running) -> None:
    services = running.services
    ann, bob, carol, dave, owner = [await factories.account(services, n) for n in ("ann", "bob", "carol", "dave", "own")]
    ann_tablet = await factories.login(services, "ann", device_id="tablet")
    await befriend(services, ann, bob)
    created = await services.groups.create(owner.principal, name="g", member_ids=[ann.user_id, carol.user_id])
    assert created.group.channel.id is not None
    await services.groups.update_settings(
        owner.principal, created.group.channel.id, SettingsChanges(members_see_profiles=False)
    )
    carol_conn, tablet_conn, dave_conn = [await running.native(a) for a in (carol, ann_tablet, dave)]
    try:
        async with subscriber(services, running.ws_url, bob) as bob_ws:
            await services.accounts.update_profile(ann.principal, ProfileChanges(display_name="Ann B", bio="hi"))

            to_bob = await next_over_graphql(bob_ws, "UserProfileChangedEvent")
            assert to_bob == {
                "__typename": "UserProfileChangedEvent",
                "seq": await services.updates.head(bob.user_id),
                "userId": str(ann.user_id),
                "displayName": "Ann B",
                "avatarFileId": None,
                "profile": {"username": "ann", "bio": "hi"},
            }
            to_carol = await next_push(carol_conn, "UserProfileChangedEvent")
            assert (to_carol["displayName"], to_carol["profile"]) == ("Ann B", None)  # the group hides profiles
            to_tablet = await next_push(tablet_conn, "UserProfileChangedEvent")  # the PUSH map of docs/PROTOCOL.md
            ann_id = str(ann.user_id)
            assert to_tablet == {
                "__typename": "UserProfileChangedEvent",
                "seq": await services.updates.head(ann.user_id),
                "userId": ann_id,
                "displayName": "Ann B",
                "avatarFileId": None,
                "profile": {"id": ann_id, "username": "ann", "displayName": "Ann B", "avatarFileId": None, "bio": "hi"},
            }

            # The stranger: the first profile change dave hears of is his own, made after ann's.
            await services.accounts.update_profile(dave.principal, ProfileChanges(display_name="Dave D"))
            to_dave = await next_push(dave_conn, "UserProfileChangedEvent")
            assert (to_dave["userId"], to_dave["displayName"]) == (str(dave.user_id), "Dave D")
    finally:
        for conn in (carol_conn, tablet_conn, dave_conn):
            await conn.close()


async def test_the_native_sdk_learns_a_change_made_while_offline_then_live(running: Running) -> None:
    services = running.services
    ann, bob = await factories.account(services, "ann"), await factories.account(services, "bob")
    await befriend(services, ann, bob)
    await services.accounts.update_profile(ann.principal, ProfileChanges(display_name="While away"))
    client = Client(running.endpoint, device_id="sdk", ping_interval=None)
    await client.login("bob", factories.PASSWORD)
    await client.start()
    try:
        who = str(ann.user_id)
        assert client.profiles[who]["displayName"] == "While away"  # from sync/get_updates
        await services.accounts.update_profile(ann.principal, ProfileChanges(display_name="Live"))
        async with asyncio.timeout(10):
            await client.wait_until(lambda: client.profiles[who]["displayName"] == "Live")
        assert client.profiles[who]["profile"]["username"] == "ann"
    finally:
        await client.close()
