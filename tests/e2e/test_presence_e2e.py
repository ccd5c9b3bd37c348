"""Presence and typing end to end: real server processes, GraphQL over WebSocket and the
native gateway. On PostgreSQL + Redis the two users sit on two different processes
(one service: presence state in Redis, events over the bus); on SQLite both are on the
one server (in-memory presence)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets

from gateway_native.client import Endpoint, NativeConnection
from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess

PASSWORD = "presence-pass-1"
EVENTS = """subscription { events {
  __typename
  ... on TypingEvent { channelId userId action expiresAt }
  ... on PresenceEvent { userId status lastSeenAt }
} }"""
PRESENCE = "query($u: ID!) { presenceQuery(input: {userId: $u}) { presence { userId status lastSeenAt } } }"
SUBSCRIBE = "mutation($u: [ID!]!) { presenceSubscribe(input: {userIds: $u}) { presences { status } subscriptions } }"
TYPING = "mutation($c: ID!) { presenceTyping(input: {channelId: $c}) { expiresAt } }"


@pytest.fixture(scope="module")
def pair(
    server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory
) -> tuple[ServerProcess, ServerProcess]:
    """Two processes of one service (PostgreSQL + Redis), or the same server twice (SQLite)."""
    if not backends.IS_POSTGRES:
        server = server_factory()
        return server, server
    database = asyncio.run(db_factory.new())
    prefix = "pr" + uuid.uuid4().hex[:8]
    return server_factory(database=database, key_prefix=prefix), server_factory(database=database, key_prefix=prefix)


class User:
    def __init__(self, server: ServerProcess, name: str) -> None:
        self.server = server
        self.name = name
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=30)
        self.token = ""
        self.id = ""

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        body = (
            await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        ).json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def sign_up(self, register: bool = True) -> User:
        if register:
            await self.data(
                "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }",
                {"u": self.name, "p": PASSWORD},
            )
        login = (
            await self.data(
                'mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: "phone", platform: "linux"}) { accessToken user { id } } }',
                {"u": self.name, "p": PASSWORD},
            )
        )["accountAuthLogin"]
        self.token, self.id = login["accessToken"], login["user"]["id"]
        return self


@contextlib.asynccontextmanager
async def events(user: User) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The user's `events` subscription over graphql-transport-ws, as a queue of items."""
    ws = await websockets.connect(user.server.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))
    items: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def read() -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif frame["type"] == "next":
                items.put_nowait(frame["payload"]["data"]["events"])

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.3)  # the subscription is live once the server has run `listen`
    try:
        yield items
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        await ws.close()


async def expect(items: asyncio.Queue[dict[str, Any]], typename: str, **fields: Any) -> dict[str, Any]:
    """The next item of this type with these fields (others in between are skipped)."""

    async def find() -> dict[str, Any]:
        while True:
            item = await items.get()
            if item.get("__typename") == typename and all(item.get(k) == v for k, v in fields.items()):
                return item

    return await asyncio.wait_for(find(), 15)


async def presence_of(viewer: User, target: User) -> dict[str, Any]:
    return (await viewer.data(PRESENCE, {"u": target.id}))["presenceQuery"]["presence"]


async def setup(pair: tuple[ServerProcess, ServerProcess]) -> tuple[User, User, str]:
    tag = uuid.uuid4().hex[:6]
    ann = await User(pair[0], f"ann{tag}").sign_up()
    bob = await User(pair[1], f"bob{tag}").sign_up()
    channel = (
        await bob.data(
            "mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id } } }", {"u": ann.id}
        )
    )["channelDirectGetOrCreate"]["channel"]["id"]
    subscribed = (await bob.data(SUBSCRIBE, {"u": [ann.id]}))["presenceSubscribe"]
    assert subscribed == {"presences": [{"status": "OFFLINE"}], "subscriptions": 1}
    return ann, bob, channel


async def test_presence_and_typing_cross_processes_over_websockets(pair: tuple[ServerProcess, ServerProcess]) -> None:
    ann, bob, channel = await setup(pair)
    async with events(bob) as bob_items:  # bob is live on process B
        async with events(ann) as ann_items:  # ann comes online on process A
            await expect(bob_items, "PresenceEvent", userId=ann.id, status="ONLINE")
            assert (await presence_of(bob, ann))["status"] == "ONLINE"  # B knows what A holds
            await ann.data(TYPING, {"c": channel})  # through A
            typing = await expect(bob_items, "TypingEvent", userId=ann.id, channelId=channel)
            assert typing["action"] == "TYPING" and typing["expiresAt"]
            await bob.data(TYPING, {"c": channel})  # and back, through B
            await expect(ann_items, "TypingEvent", userId=bob.id)
            # a typing flood from ann is refused for ann only
            codes = [
                (body.get("errors") or [{}])[0].get("extensions", {}).get("code")
                for body in [await ann.gql(TYPING, {"c": channel}) for _ in range(15)]
            ]
            assert "RATE_LIMITED" in codes
            assert not (await bob.gql(TYPING, {"c": channel})).get("errors")
        gone = await expect(bob_items, "PresenceEvent", userId=ann.id, status="OFFLINE")
        assert gone["lastSeenAt"] is not None
        seen = await presence_of(bob, ann)
        assert seen["status"] == "OFFLINE" and seen["lastSeenAt"] == gone["lastSeenAt"]
        # typing was never stored: nothing but the channel's creation is in sync
        diff = await bob.data(
            "query($c: ID!) { syncGetDifference(input: {channelId: $c, fromPts: 0, limit: 50}) { pts } }",
            {"c": channel},
        )
        assert diff["syncGetDifference"]["pts"] == 0


async def test_a_native_gateway_connection_is_online_too(pair: tuple[ServerProcess, ServerProcess]) -> None:
    ann, bob, channel = await setup(pair)
    async with events(bob) as bob_items:
        native = await NativeConnection.open(Endpoint("tcp", "127.0.0.1", pair[0].tcp_port), ping_interval=None)
        try:
            await native.connect(ann.token, device_id="phone")
            await native.call("sync/session_ready")
            await expect(bob_items, "PresenceEvent", userId=ann.id, status="ONLINE")
            await bob.data(TYPING, {"c": channel})
            push = await asyncio.wait_for(native.pushes.get(), 15)
            while push.get("__typename") != "TypingEvent":
                push = await asyncio.wait_for(native.pushes.get(), 15)
            assert push["userId"] == bob.id and push["channelId"] == channel and push["action"] == "TYPING"
            answer = await native.call("presence/typing", {"channelId": channel, "action": "UPLOADING_MEDIA"})
            assert answer["expiresAt"]
            await expect(bob_items, "TypingEvent", userId=ann.id, action="UPLOADING_MEDIA")
            mine = await native.call("presence/query", {"userId": ann.id})
            assert mine["presence"]["status"] == "ONLINE"
        finally:
            await native.close()
        await expect(bob_items, "PresenceEvent", userId=ann.id, status="OFFLINE")
