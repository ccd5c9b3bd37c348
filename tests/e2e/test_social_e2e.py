"""Real server, two real clients (HTTP + graphql-transport-ws): apply -> live notification
-> accept -> both see the friendship and the direct channel -> an offline device of the
receiver catches up through syncGetUpdates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets

from tests.support.server import ServerProcess

PASSWORD = "e2e-password-42"
EVENTS = """subscription { events { __typename
  ... on FriendRequestReceivedEvent { seq requestId fromUserId requestMessage source user { id username } }
  ... on FriendRequestAcceptedEvent { seq requestId channelId user { id username } }
  ... on FriendAddedEvent { seq userId channelId source }
} }"""
SOCIAL = {"FriendRequestReceivedEvent", "FriendRequestAcceptedEvent", "FriendAddedEvent"}


class Client:
    """One device: GraphQL over HTTP with its bearer token."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.token = ""
        self.user_id = ""

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(self.url, json={"query": query, "variables": variables}, headers=headers)
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def login(self, username: str, device: str) -> Client:
        data = await self.gql(
            """mutation($u: String!, $p: String!, $d: String!) { accountAuthLogin(input:
               {username: $u, password: $p, deviceId: $d, platform: "android"}) { accessToken user { id } } }""",
            u=username,
            p=PASSWORD,
            d=device,
        )
        self.token = data["accountAuthLogin"]["accessToken"]
        self.user_id = data["accountAuthLogin"]["user"]["id"]
        return self


class Subscription:
    """The `events` stream of one device over graphql-transport-ws."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.items: list[dict[str, Any]] = []

    async def next_social(self, wait: float = 10) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            assert message["type"] == "next", message
            assert not message["payload"].get("errors"), message
            item = message["payload"]["data"]["events"]
            self.items.append(item)
            if item["__typename"] in SOCIAL:
                return item

    async def quiet_for(self, seconds: float) -> list[dict[str, Any]]:
        """Social items that still arrive within `seconds` (expected: none)."""
        extra: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                extra.append(await self.next_social(wait=seconds))
        return extra


@contextlib.asynccontextmanager
async def subscribe(server: ServerProcess, client: Client) -> AsyncIterator[Subscription]:
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {client.token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))
        await asyncio.sleep(0.3)  # the server registers the listener before anything is sent
        yield Subscription(ws)


async def test_apply_notify_accept_and_offline_catch_up(live_server: ServerProcess) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann_name, bob_name = f"ann{suffix}", f"bob{suffix}"
    async with httpx.AsyncClient(timeout=20) as http:
        anonymous = Client(http, live_server.graphql_url)
        for name in (ann_name, bob_name):
            await anonymous.gql(
                "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }",
                u=name,
                p=PASSWORD,
            )
        ann = await Client(http, live_server.graphql_url).login(ann_name, "phone")
        bob = await Client(http, live_server.graphql_url).login(bob_name, "phone")
        bob_tablet = await Client(http, live_server.graphql_url).login(bob_name, "tablet")  # logged in, never connected

        async with subscribe(live_server, ann) as ann_events, subscribe(live_server, bob) as bob_events:
            found = await ann.gql(
                "query($q: String!) { accountSearchQuery(input: {query: $q}) { results { user { id } searchProof } } }",
                q=bob_name,
            )
            [proof] = [r["searchProof"] for r in found["accountSearchQuery"]["results"] if r["user"]["id"] == bob.user_id]
            applied = await ann.gql(
                """mutation($u: ID!, $p: String) {
                   contactFriendApply(input: {userId: $u, message: "hi from ann", source: SEARCH, searchProof: $p})
                   { outcome request { id status } } }""",
                u=bob.user_id,
                p=proof,
            )
            assert applied["contactFriendApply"]["outcome"] == "PENDING"
            request_id = applied["contactFriendApply"]["request"]["id"]

            received = await bob_events.next_social()
            assert received["__typename"] == "FriendRequestReceivedEvent"
            assert received["requestId"] == request_id and received["fromUserId"] == ann.user_id
            assert received["requestMessage"] == "hi from ann" and received["source"] == "SEARCH"
            assert received["user"] == {"id": ann.user_id, "username": ann_name}

            accepted = await bob.gql(
                "mutation($u: ID!) { contactFriendAccept(input: {userId: $u}) { channelId friend { user { id } } } }",
                u=ann.user_id,
            )
            channel_id = accepted["contactFriendAccept"]["channelId"]
            assert channel_id and accepted["contactFriendAccept"]["friend"]["user"]["id"] == ann.user_id

            told = await ann_events.next_social()
            assert told["__typename"] == "FriendRequestAcceptedEvent"
            assert told["requestId"] == request_id and told["channelId"] == channel_id
            assert told["user"]["username"] == bob_name
            for stream, other in ((ann_events, bob), (bob_events, ann)):
                added = await stream.next_social()
                assert added["__typename"] == "FriendAddedEvent"
                assert added["userId"] == other.user_id and added["channelId"] == channel_id
            # each notification reached each live device once
            assert await ann_events.quiet_for(0.5) == [] and await bob_events.quiet_for(0.5) == []

        for me, other in ((ann, bob), (bob, ann)):
            friends = await me.gql(
                "query { contactFriendList(input: {}) { friends { user { id username } channelId } } }"
            )
            assert [(f["user"]["id"], f["channelId"]) for f in friends["contactFriendList"]["friends"]] == [
                (other.user_id, channel_id)
            ]
            check = await me.gql(
                "query($u: ID!) { contactFriendCheck(input: {userId: $u}) { isFriend friend { channelId } } }",
                u=other.user_id,
            )
            assert check["contactFriendCheck"] == {"isFriend": True, "friend": {"channelId": channel_id}}

        # bob's tablet was offline all along: it catches up from seq 0
        sync = await bob_tablet.gql(
            """query { syncGetUpdates(input: {since: 0}) { seq hasMore updates { __typename
                 ... on FriendRequestReceivedEvent { seq requestId fromUserId }
                 ... on FriendAddedEvent { seq userId channelId } } } }"""
        )
        page = sync["syncGetUpdates"]
        social = [u for u in page["updates"] if u["__typename"] in SOCIAL]
        assert [u["__typename"] for u in social] == ["FriendRequestReceivedEvent", "FriendAddedEvent"]
        assert social[0]["requestId"] == request_id and social[1]["channelId"] == channel_id
        assert social[0]["seq"] < social[1]["seq"] <= page["seq"] and page["hasMore"] is False
