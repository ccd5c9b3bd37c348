"""`ChannelEvent { channelId pts }` and `UserUpdateEvent { seq }` against a real server:
a client reads the counters of every stream item with two fragments, whatever its type,
in the live `events` stream and in sync; the native door pushes the same objects (with
`__typename`) and answers `sync/get_difference` with the same events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway_native.client import Endpoint, NativeConnection
from tests.support.server import ServerProcess

PASSWORD = "interface-pass-1"
WAIT_S = 15.0
COUNTERS_ONLY = """subscription { events {
  __typename
  ... on ChannelEvent { channelId pts }
  ... on UserUpdateEvent { seq }
} }"""
DIFFERENCE = """query($c: ID!) { syncGetDifference(input: {channelId: $c, fromPts: 0, limit: 100}) {
  events { __typename ... on ChannelEvent { channelId pts } } pts } }"""
UPDATES = "{ syncGetUpdates(input: {since: 0, limit: 100}) { updates { __typename ... on UserUpdateEvent { seq } } seq } }"


class Http:
    def __init__(self, server: ServerProcess) -> None:
        self.client = httpx.AsyncClient(base_url=server.base_url, timeout=WAIT_S)

    async def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    async def account(self, username: str, device: str) -> tuple[str, str]:
        """(user id, access token) of a new user logged in on `device`."""
        await self.data(
            "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }",
            {"u": username, "p": PASSWORD},
        )
        return await self.login(username, device)

    async def login(self, username: str, device: str) -> tuple[str, str]:
        login = await self.data(
            "mutation($u: String!, $p: String!, $d: String!) { accountAuthLogin(input: {username: $u, password: $p,"
            " deviceId: $d}) { accessToken user { id } } }",
            {"u": username, "p": PASSWORD, "d": device},
        )
        return login["accountAuthLogin"]["user"]["id"], login["accountAuthLogin"]["accessToken"]


@asynccontextmanager
async def subscribed(server: ServerProcess, token: str, query: str) -> AsyncIterator[ClientConnection]:
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"type": "subscribe", "id": "events", "payload": {"query": query}}))
        yield ws


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "next":
                assert "errors" not in message["payload"], message
                return dict(message["payload"]["data"]["events"])


async def possible_types(http: Http, name: str) -> set[str]:
    data = await http.data("query($n: String!) { __type(name: $n) { possibleTypes { name } } }", {"n": name})
    return {t["name"] for t in data["__type"]["possibleTypes"]}


async def test_the_interfaces_cover_exactly_the_numbered_types(live_server: ServerProcess) -> None:
    http = Http(live_server)
    channel_events, user_updates = await possible_types(http, "ChannelEvent"), await possible_types(http, "UserUpdateEvent")
    assert channel_events == await possible_types(http, "ChannelUpdate")
    assert user_updates == await possible_types(http, "UserUpdate")
    # Every live item that carries a counter implements the interface of that counter.
    fields = await http.data(
        '{ __type(name: "Event") { possibleTypes { name fields { name } interfaces { name } } } }'
    )
    for member in fields["__type"]["possibleTypes"]:
        names = {f["name"] for f in member["fields"]}
        interfaces = {i["name"] for i in member["interfaces"]}
        assert ("pts" in names) == ("ChannelEvent" in interfaces), member["name"]
        assert ("seq" in names) == ("UserUpdateEvent" in interfaces), member["name"]
        assert (member["name"] in channel_events) == ("ChannelEvent" in interfaces)
        assert (member["name"] in user_updates) == ("UserUpdateEvent" in interfaces)


async def test_counters_of_every_item_with_two_fragments_on_both_doors(live_server: ServerProcess) -> None:
    http = Http(live_server)
    suffix = uuid.uuid4().hex[:6]
    ann_id, ann = await http.account(f"iann{suffix}", "ann-web")
    bob_id, bob_token = await http.account(f"ibob{suffix}", "bob-phone")
    bob = await NativeConnection.open(Endpoint("tcp", "127.0.0.1", live_server.tcp_port), ping_interval=None)
    try:
        await bob.connect(bob_token, device_id="bob-phone")
        await bob.call("sync/session_ready")
        found = await bob.call("account/search/query", {"query": f"iann{suffix}"})
        proof = next(r["searchProof"] for r in found["results"] if r["user"]["id"] == ann_id)
        await bob.call("contact/friend/apply", {"userId": ann_id, "source": "SEARCH", "searchProof": proof})
        accepted = await http.data(
            "mutation($u: ID!) { contactFriendAccept(input: {userId: $u}) { channelId } }", {"u": bob_id}, ann
        )
        direct = accepted["contactFriendAccept"]["channelId"]
        async with subscribed(live_server, ann, COUNTERS_ONLY) as ws:
            # The protocol does not acknowledge a subscribe: signal typing until the stream shows it.
            async with asyncio.timeout(WAIT_S):
                while True:
                    await bob.call("presence/typing", {"channelId": direct})
                    try:
                        first = await asyncio.wait_for(next_event(ws), 0.5)
                    except TimeoutError:
                        continue
                    if first == {"__typename": "TypingEvent"}:  # no counter, so no fields but the name
                        break

            sent = await bob.call(
                "message/send", {"channelId": direct, "clientMsgId": "m1", "content": {"text": {"text": "hi"}}}
            )
            message_id = sent["message"]["id"]
            await http.data(
                'mutation($m: ID!) { messageReactionAdd(input: {messageId: $m, emoji: "👍"}) { __typename } }',
                {"m": message_id}, ann,
            )
            await http.data("mutation($m: ID!) { messagePin(input: {messageId: $m}) { __typename } }", {"m": message_id}, ann)
            await bob.call("message/revoke", {"messageId": message_id})
            group = await http.data(
                'mutation($b: ID!) { groupGroupCreate(input: {name: "g", memberIds: [$b]}) { group { id } } }',
                {"b": bob_id}, ann,
            )
            group_channel = group["groupGroupCreate"]["group"]["id"]  # a group is its channel
            # A user update: the conversation settings reach the user's other devices.
            _, ann_phone = await http.login(f"iann{suffix}", "ann-phone")
            await http.data("mutation($c: ID!) { channelPin(input: {channelId: $c}) { __typename } }", {"c": direct}, ann_phone)
            last = await http.data(
                'mutation($c: ID!) { messageSend(input: {channelId: $c, clientMsgId: "g1", content: {text: {text: "yo"}}})'
                " { message { pts } } }",
                {"c": group_channel}, ann,
            )
            last_pts = last["messageSend"]["message"]["pts"]
            live: list[dict[str, Any]] = []
            while not (live and live[-1].get("channelId") == group_channel and live[-1].get("pts") == last_pts):
                live.append(await next_event(ws))

        # GraphQL: two fragments gave every item its counter and nothing else.
        channel_types = await possible_types(http, "ChannelEvent")
        update_types = await possible_types(http, "UserUpdateEvent")
        live = [e for e in live if e["__typename"] != "TypingEvent"]
        for event in live:
            if event["__typename"] in channel_types:
                assert set(event) == {"__typename", "channelId", "pts"}, event
            else:
                assert event["__typename"] in update_types and set(event) == {"__typename", "seq"}, event
        kinds = {e["__typename"] for e in live}
        assert {"MessageEvent", "ReactionEvent", "PinEvent", "MessageRevokedEvent", "GroupCreatedEvent"} <= kinds
        assert "ConversationSettingsEvent" in kinds  # a user update, with its seq

        # The live counters are the stored ones: sync returns the same items with the same fragments.
        for channel in (direct, group_channel):
            diff = (await http.data(DIFFERENCE, {"c": channel}, ann))["syncGetDifference"]
            stored = diff["events"]
            assert [e["pts"] for e in stored] == list(range(1, diff["pts"] + 1))
            seen = [e for e in live if e.get("channelId") == channel]
            assert seen == stored[len(stored) - len(seen):]
            # The native door answers the same route with the same events, as maps with __typename.
            native = await bob.call("sync/get_difference", {"channelId": channel, "fromPts": 0, "limit": 100})
            assert [(e["__typename"], e["channelId"], e["pts"]) for e in native["events"]] == [
                (e["__typename"], e["channelId"], e["pts"]) for e in stored
            ]
        updates = (await http.data(UPDATES, None, ann))["syncGetUpdates"]
        assert [u["seq"] for u in updates["updates"]] == list(range(1, updates["seq"] + 1))
        assert all(set(u) == {"__typename", "seq"} for u in updates["updates"])

        # Native PUSH: the same objects, complete, with __typename; the counters where GraphQL has them.
        pushed: list[dict[str, Any]] = []
        while not bob.pushes.empty():
            pushed.append(bob.pushes.get_nowait())
        shared = [e for e in live if e.get("channelId") in (direct, group_channel)]
        pushed_channel_events = [e for e in pushed if e["__typename"] in channel_types]
        assert [(e["__typename"], e["channelId"], e["pts"]) for e in pushed_channel_events][-len(shared):] == [
            (e["__typename"], e["channelId"], e["pts"]) for e in shared
        ]
        pushed_updates = [e for e in pushed if e["__typename"] in update_types]
        assert pushed_updates and all(isinstance(e["seq"], int) for e in pushed_updates)
        reaction = next(e for e in pushed if e["__typename"] == "ReactionEvent")
        assert reaction["messageId"] == message_id and reaction["emoji"] == "👍"
    finally:
        await bob.close()
        await http.client.aclose()


@pytest.mark.parametrize("typename", ["MessageEvent", "GroupMembersJoinedEvent"])
def test_channel_event_types_list_channel_id_and_pts_first(typename: str) -> None:
    """The wire maps keep their key order (channelId, pts first), as before the interface."""
    from app.config import HttpSettings
    from resolvers import ALL_OPERATIONS
    from schema.build import Api

    api = Api(ALL_OPERATIONS, HttpSettings())
    fields = list(api.schema._schema.type_map[typename].fields)  # type: ignore[attr-defined]
    assert fields[:2] == ["channelId", "pts"]
