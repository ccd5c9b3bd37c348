"""A small PrivChat client over GraphQL (HTTP + graphql-transport-ws) implementing the
documented sync algorithm (docs/SYNC.md):

1. connect the `events` subscription with holdUntilReady, so live events wait for us;
2. `syncBatchGetChannelPts(changedSince)` (paged) -> channels whose pts moved;
3. `syncGetDifference(channel, fromPts)` (paged) for each -> apply events in pts order;
4. `syncGetUpdates(since)` (paged) -> user updates in seq order;
5. `syncSessionReady` -> held live events flow; each is applied by the gap rule:
   pts == local + 1 apply; pts <= local ignore; pts > local + 1 fetch the difference.

Used by the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

# `ChannelEvent` gives every channel event's counter (channelId, pts) and `UserUpdateEvent`
# every user update's (seq), including kinds this client has no fragment for.
CHANNEL_EVENT_FIELDS = """
  __typename
  ... on ChannelEvent { channelId pts }
  ... on MessageEvent { message { id pts senderId clientMsgId revoked content { ... on TextContent { text } } } }
  ... on MessageRevokedEvent { messageId revokedBy }
  ... on GroupEvent { kind }
  ... on OtherChannelEvent { kind }
  ... on ReactionEvent { messageId userId emoji added }
  ... on PinEvent { messageId pinned actorId }
"""
USER_UPDATE_FIELDS = """
  __typename
  ... on UserUpdateEvent { seq }
"""
EVENT_FIELDS = CHANNEL_EVENT_FIELDS + """
  ... on UserUpdateEvent { seq }
  ... on SessionRevokedEvent { sessionIds reason }
  ... on ChannelAddedEvent { channelId kind }
  ... on OtherUserUpdate { kind }
  ... on ChannelRemovedEvent { channelId kind reason }
  ... on GroupJoinRequestReceivedEvent { groupId }
  ... on GroupJoinRequestHandledEvent { groupId approved }
  ... on ResyncRequiredEvent { reason }
"""
_ids = itertools.count(1)


class ClientError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("message"))
        self.errors = errors
        self.code = errors[0].get("extensions", {}).get("code")


@dataclass
class SyncClient:
    base_url: str  # http://127.0.0.1:PORT
    username: str
    password: str
    device_id: str
    http: httpx.AsyncClient = field(init=False)
    token: str | None = None
    user_id: str | None = None
    # local state
    channel_pts: dict[str, int] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> messages in pts order
    reactions: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # message -> {(user, emoji)}
    pins: dict[str, set[str]] = field(default_factory=dict)  # channel -> pinned message ids
    seq: int = 0
    sync_time: int = 0
    resyncs: int = 0
    live_applied: int = 0
    live_seen: dict[str, int] = field(default_factory=dict)  # channel -> highest pts that arrived live
    _ws: Any = None
    _reader: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=30)

    # -- plumbing -------------------------------------------------------------------------

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        body = response.json()
        if body.get("errors"):
            raise ClientError(body["errors"])
        return body["data"]

    async def register(self, display_name: str | None = None) -> None:
        await self.gql(
            "mutation($u: String!, $p: String!, $n: String) { accountUserRegister(input: {username: $u, password: $p, displayName: $n}) { user { id } } }",
            {"u": self.username, "p": self.password, "n": display_name},
        )

    async def login(self) -> None:
        data = await self.gql(
            "mutation($u: String!, $p: String!, $d: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: $d, platform: \"linux\"}) { accessToken user { id } } }",
            {"u": self.username, "p": self.password, "d": self.device_id},
        )
        self.token = data["accountAuthLogin"]["accessToken"]
        self.user_id = data["accountAuthLogin"]["user"]["id"]

    async def close(self) -> None:
        await self.disconnect()
        await self.http.aclose()

    # -- actions --------------------------------------------------------------------------

    async def open_direct(self, user_id: str) -> str:
        data = await self.gql("mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id } } }", {"u": user_id})
        return str(data["channelDirectGetOrCreate"]["channel"]["id"])

    async def send_text(self, channel_id: str, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        data = await self.gql(
            "mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, content: {text: {text: $t}}}) { message { id pts } } }",
            {"c": channel_id, "id": client_msg_id or f"{self.device_id}-{next(_ids)}", "t": text},
        )
        return data["messageSend"]["message"]

    # -- sync -----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the live stream (held), then sync, then release it."""
        ws_url = self.base_url.replace("http", "ws", 1) + "/graphql"
        self._ws = await websockets.connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await self._ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}))
        ack = json.loads(await self._ws.recv())
        assert ack["type"] == "connection_ack", ack
        query = "subscription { events(input: {holdUntilReady: true}) { %s } }" % EVENT_FIELDS
        await self._ws.send(json.dumps({"id": "events", "type": "subscribe", "payload": {"query": query}}))
        await self.sync()
        await self.gql("mutation { syncSessionReady { ok seq } }")
        self._reader = asyncio.create_task(self._read_live())

    async def disconnect(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
            self._ws = None

    async def sync(self) -> None:
        async with self._lock:
            cursor: str | None = None
            changed_since = self.sync_time
            while True:
                data = await self.gql(
                    "query($s: Long!, $c: String) { syncBatchGetChannelPts(input: {changedSince: $s, cursor: $c, limit: 200}) { channels { channelId pts } nextCursor syncTime } }",
                    {"s": changed_since, "c": cursor},
                )
                page = data["syncBatchGetChannelPts"]
                for row in page["channels"]:
                    if row["pts"] > self.channel_pts.get(row["channelId"], 0):
                        await self._fetch_difference(row["channelId"])
                cursor = page["nextCursor"]
                if cursor is None:
                    self.sync_time = page["syncTime"]
                    break
            await self._fetch_updates()

    async def _fetch_difference(self, channel_id: str) -> None:
        while True:
            data = await self.gql(
                "query($c: ID!, $f: Int!) { syncGetDifference(input: {channelId: $c, fromPts: $f, limit: 100}) { events { %s } pts isFinal tooLong } }" % CHANNEL_EVENT_FIELDS,
                {"c": channel_id, "f": self.channel_pts.get(channel_id, 0)},
            )
            diff = data["syncGetDifference"]
            if diff["tooLong"]:
                await self._reset_from_history(channel_id)
                return
            for event in diff["events"]:
                self._apply_channel_event(event)
            if diff["isFinal"]:
                return

    async def _reset_from_history(self, channel_id: str) -> None:
        """The gap is over `messaging.max_difference` (docs/SYNC.md step 3)."""
        raise RuntimeError("gap too long: a real client re-fetches history here")

    async def _fetch_updates(self) -> None:
        while True:
            data = await self.gql(
                "query($s: Int!) { syncGetUpdates(input: {since: $s, limit: 100}) { updates { %s } seq hasMore } }" % USER_UPDATE_FIELDS,
                {"s": self.seq},
            )
            page = data["syncGetUpdates"]
            for update in page["updates"]:
                self.seq = max(self.seq, update["seq"])
            if not page["hasMore"]:
                return

    def _apply_channel_event(self, event: dict[str, Any]) -> None:
        channel_id = event["channelId"]
        local = self.channel_pts.get(channel_id, 0)
        if event["pts"] != local + 1:
            raise AssertionError(f"applying pts {event['pts']} after {local} in {channel_id}")
        self.channel_pts[channel_id] = event["pts"]
        if event["__typename"] == "MessageEvent":
            self.messages.setdefault(channel_id, []).append(event["message"])
        elif event["__typename"] == "MessageRevokedEvent":
            for message in self.messages.get(channel_id, []):
                if message["id"] == event["messageId"]:
                    message["revoked"], message["content"] = True, None
        elif event["__typename"] == "ReactionEvent":
            reacted = self.reactions.setdefault(event["messageId"], set())
            (reacted.add if event["added"] else reacted.discard)((event["userId"], event["emoji"]))
        elif event["__typename"] == "PinEvent":
            pinned = self.pins.setdefault(channel_id, set())
            (pinned.add if event["pinned"] else pinned.discard)(event["messageId"])
        self._changed.set()

    async def _read_live(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            frame = json.loads(raw)
            if frame["type"] == "ping":
                await self._ws.send(json.dumps({"type": "pong"}))
                continue
            if frame["type"] != "next":
                continue
            event = frame["payload"]["data"]["events"]
            await self._on_live(event)

    async def _on_live(self, event: dict[str, Any]) -> None:
        kind = event["__typename"]
        if kind == "ResyncRequiredEvent":
            self.resyncs += 1
            await self.sync()
            return
        if "pts" in event:
            channel_id = event["channelId"]
            self.live_seen[channel_id] = max(self.live_seen.get(channel_id, 0), event["pts"])
        async with self._lock:
            if "pts" in event:  # a ChannelEvent
                local = self.channel_pts.get(event["channelId"], 0)
                if event["pts"] <= local:
                    return  # already have it (sync got there first)
                if event["pts"] == local + 1:
                    self._apply_channel_event(event)
                    self.live_applied += 1
                    return
                await self._fetch_difference(event["channelId"])  # a gap: heal it
                return
            if "seq" in event:  # a UserUpdateEvent
                if event["seq"] == self.seq + 1:
                    self.seq = event["seq"]
                elif event["seq"] > self.seq + 1:
                    await self._fetch_updates()

    async def wait_for(self, channel_id: str, pts: int, timeout: float = 20.0) -> None:
        async def reached() -> None:
            while self.channel_pts.get(channel_id, 0) < pts:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), timeout)

    def texts(self, channel_id: str) -> list[str]:
        return [m["content"]["text"] for m in self.messages.get(channel_id, [])]
