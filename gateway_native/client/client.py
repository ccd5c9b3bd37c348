"""A PrivChat client over the native gateway: login, any route, pushes, and the sync
algorithm of docs/SYNC.md (restated for the gateway in docs/PROTOCOL.md §6):

1. CONNECT: the server starts holding this device's live events;
2. `sync/batch_get_channel_pts(changedSince)` (paged) -> channels whose pts moved;
3. `sync/get_difference(channel, fromPts)` (paged) for each -> apply in pts order;
4. `sync/get_updates(since)` (paged) -> user updates in seq order;
5. `sync/session_ready` -> held PUSHes flow; each is applied by the gap rule:
   pts == local + 1 apply; pts <= local ignore; pts > local + 1 fetch the difference.

When the connection drops for a reason worth retrying (server shutdown, idle timeout,
network), the client reconnects with exponential backoff and jitter and repeats 1-5
from its local pts/seq: what it missed arrives once, in order. Login happens over the
gateway itself: `account/auth/login` is allowed before CONNECT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from gateway_native.client.connection import (
    CLIENT_CLOSED,
    CONNECTION_LOST,
    ConnectAck,
    Disconnected,
    NativeConnection,
    RpcError,
)
from gateway_native.client.transports import Endpoint

log = logging.getLogger(__name__)

# DISCONNECT codes after which reconnecting with the same credentials can work.
RECONNECTABLE = frozenset(
    {"SERVER_SHUTDOWN", "IDLE_TIMEOUT", "INTERNAL", "UNAVAILABLE", "RATE_LIMITED", "AUTH_TIMEOUT", CONNECTION_LOST}
)
EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


class Client:
    def __init__(
        self,
        endpoint: Endpoint | str,
        *,
        device_id: str,
        platform: str = "other",
        device_name: str | None = None,
        reconnect: bool = True,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        ping_interval: float | None = 30.0,
        rpc_timeout: float = 30.0,
        on_event: EventHandler | None = None,
    ) -> None:
        self.endpoint = Endpoint.parse(endpoint) if isinstance(endpoint, str) else endpoint
        self.device_id = device_id
        self.platform = platform
        self.device_name = device_name or device_id
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.ping_interval = ping_interval
        self.rpc_timeout = rpc_timeout
        self.on_event = on_event
        # credentials
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.user_id: str | None = None
        # local sync state
        self.channel_pts: dict[str, int] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.seq = 0
        # user id -> what this device knows of that user's profile (from UserProfileChangedEvent):
        # displayName, avatarFileId, and profile (the full card, or None when it may see only those two).
        self.profiles: dict[str, dict[str, Any]] = {}
        self.sync_time = 0
        self.resyncs = 0
        self.live_applied = 0
        # connection state
        self.ack: ConnectAck | None = None
        self.connects = 0
        self.disconnects: list[Disconnected] = []
        self.ended: Disconnected | None = None
        self._conn: NativeConnection | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._ended = asyncio.Event()
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._closing = False

    # -- accounts -----------------------------------------------------------------------------

    async def register(self, username: str, password: str, display_name: str | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"username": username, "password": password}
        if display_name is not None:
            args["displayName"] = display_name
        data = await self.call("account/user/register", args)
        return data["user"]

    async def login(self, username: str, password: str) -> dict[str, Any]:
        """Log this device in over the gateway (before CONNECT); keeps the tokens."""
        args = {
            "username": username,
            "password": password,
            "deviceId": self.device_id,
            "deviceName": self.device_name,
            "platform": self.platform,
        }
        data = await self.call("account/auth/login", args)
        self.access_token = data["accessToken"]
        self.refresh_token = data["refreshToken"]
        self.user_id = str(data["user"]["id"])
        return data

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> ConnectAck:
        """CONNECT, sync, go live; then keep the connection up until `close` (or a refusal)."""
        if self.access_token is None:
            raise RuntimeError("log in first (or set access_token)")
        self._ended.clear()
        self.ended = None
        ack = await self._establish()
        self._supervisor = asyncio.create_task(self._supervise())
        return ack

    async def close(self) -> None:
        self._closing = True
        for task in (self._supervisor, self._consumer):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._conn is not None:
            await self._conn.close()
        self._ready.clear()

    async def wait_ended(self) -> Disconnected:
        """Until the client gives up (a DISCONNECT it must not retry, e.g. SESSION_REVOKED)."""
        await self._ended.wait()
        assert self.ended is not None
        return self.ended

    async def wait_ready(self) -> None:
        await self._ready.wait()

    @property
    def connection(self) -> NativeConnection | None:
        return self._conn

    # -- calls --------------------------------------------------------------------------------

    async def call(self, route: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Any route. A TOKEN_EXPIRED answer renews the token on the connection and retries once."""
        return await self._call_on(await self._usable(), route, args)

    async def _call_on(self, conn: NativeConnection, route: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return await conn.call(route, args)
        except RpcError as exc:
            if exc.code != "TOKEN_EXPIRED" or self.refresh_token is None:
                raise
        await self._renew(conn)
        return await conn.call(route, args)

    async def open_direct(self, user_id: str) -> str:
        data = await self.call("channel/direct/get_or_create", {"userId": user_id})
        return str(data["channel"]["id"])

    async def search_users(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Users found by username / display-name prefix, or by exact phone or email. Each
        result carries the `searchProof` that a friend request by search needs (`apply_friend`)."""
        return list((await self.call("account/search/query", {"query": query, "limit": limit}))["results"])

    async def apply_friend(self, found: dict[str, Any], message: str | None = None) -> dict[str, Any]:
        """Ask a user `search_users` found to be friends: source SEARCH, proven by the
        result's `searchProof` (valid 15 minutes, for this user only)."""
        args: dict[str, Any] = {"userId": found["user"]["id"], "source": "SEARCH", "searchProof": found["searchProof"]}
        if message is not None:
            args["message"] = message
        return await self.call("contact/friend/apply", args)

    async def send_text(self, channel_id: str, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        args = {
            "channelId": channel_id,
            "clientMsgId": client_msg_id or f"{self.device_id}-{random.getrandbits(64):016x}",
            "content": {"text": {"text": text}},
        }
        return (await self.call("message/send", args))["message"]

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Steps 2-4: bring local pts/seq up to the server's, from where they are."""
        await self._sync(await self._usable())

    async def _sync(self, conn: NativeConnection) -> None:
        async with self._lock:
            cursor: str | None = None
            while True:
                page = await self._call_on(
                    conn, "sync/batch_get_channel_pts", {"changedSince": self.sync_time, "cursor": cursor, "limit": 200}
                )
                for row in page["channels"]:
                    if row["pts"] > self.channel_pts.get(row["channelId"], 0):
                        await self._fetch_difference(conn, row["channelId"])
                cursor = page["nextCursor"]
                if cursor is None:
                    self.sync_time = page["syncTime"]
                    break
            await self._fetch_updates(conn)

    async def _fetch_difference(self, conn: NativeConnection, channel_id: str) -> None:
        while True:
            diff = await self._call_on(
                conn,
                "sync/get_difference",
                {"channelId": channel_id, "fromPts": self.channel_pts.get(channel_id, 0), "limit": 100},
            )
            if diff["tooLong"]:
                # Too far behind for a difference: start from recent history instead.
                await self._reset_from_history(conn, channel_id)
                return
            for event in diff["events"]:
                self._apply_channel_event(event)
            if diff["isFinal"]:
                return

    async def _reset_from_history(self, conn: NativeConnection, channel_id: str) -> None:
        args = {"channelId": channel_id, "limit": 50, "order": "NEWEST_FIRST"}
        page = await self._call_on(conn, "message/history/get", args)
        messages = sorted(page["messages"], key=lambda m: m["pts"])
        self.messages[channel_id] = messages
        info = await self._call_on(conn, "sync/get_channel_pts", {"channelId": channel_id})
        self.channel_pts[channel_id] = info["channel"]["pts"]
        self._changed.set()

    async def _fetch_updates(self, conn: NativeConnection) -> None:
        while True:
            page = await self._call_on(conn, "sync/get_updates", {"since": self.seq, "limit": 100})
            for update in page["updates"]:
                if update["seq"] > self.seq:
                    self._apply_user_update(update)
            if not page["hasMore"]:
                return

    def _apply_channel_event(self, event: dict[str, Any]) -> None:
        channel_id = event["channelId"]
        local = self.channel_pts.get(channel_id, 0)
        if event["pts"] != local + 1:
            raise AssertionError(f"applying pts {event['pts']} after {local} in channel {channel_id}")
        self.channel_pts[channel_id] = event["pts"]
        if event.get("__typename") == "MessageEvent":
            self.messages.setdefault(channel_id, []).append(event["message"])
        elif event.get("__typename") == "MessageRevokedEvent":  # recalled or removed: content gone
            for message in self.messages.get(channel_id, []):
                if message.get("id") == event["messageId"]:
                    message["content"] = {}
        self._changed.set()

    def _apply_user_update(self, update: dict[str, Any]) -> None:
        self.seq = update["seq"]
        if update.get("__typename") == "UserProfileChangedEvent":
            self.profiles[update["userId"]] = {
                "displayName": update["displayName"],
                "avatarFileId": update.get("avatarFileId"),
                "profile": update.get("profile"),
            }
        self._changed.set()

    async def _on_live(self, conn: NativeConnection, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            outcome = self.on_event(event)
            if outcome is not None:
                await outcome
        kind = event.get("__typename")
        if kind == "ResyncRequiredEvent":
            self.resyncs += 1
            await self._sync(conn)
            return
        async with self._lock:
            if "channelId" in event and "pts" in event:
                local = self.channel_pts.get(event["channelId"], 0)
                if event["pts"] <= local:
                    return  # sync got there first
                if event["pts"] == local + 1:
                    self._apply_channel_event(event)
                    self.live_applied += 1
                    return
                await self._fetch_difference(conn, event["channelId"])  # a gap: heal it
            elif "seq" in event:
                if event["seq"] == self.seq + 1:
                    self._apply_user_update(event)
                elif event["seq"] > self.seq + 1:
                    await self._fetch_updates(conn)

    async def wait_for(self, channel_id: str, pts: int) -> None:
        """Until the channel has reached `pts` locally (wrap in `asyncio.timeout`)."""
        while self.channel_pts.get(channel_id, 0) < pts:
            self._changed.clear()
            await self._changed.wait()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until `condition()` holds on the local state (wrap in `asyncio.timeout`)."""
        while not condition():
            self._changed.clear()
            await self._changed.wait()

    def texts(self, channel_id: str) -> list[str]:
        return [m["content"]["text"] for m in self.messages.get(channel_id, []) if "text" in m.get("content", {})]

    # -- connection management ----------------------------------------------------------------

    async def _usable(self) -> NativeConnection:
        """The live connection; before `start`, a fresh one (anonymous until CONNECT)."""
        if self._supervisor is not None and not self._ready.is_set() and not self._ended.is_set():
            await self.wait_ready()
        if self._conn is None or self._conn.is_closed:
            self._conn = await self._open()
        return self._conn

    async def _open(self) -> NativeConnection:
        return await NativeConnection.open(
            self.endpoint, ping_interval=self.ping_interval, rpc_timeout=self.rpc_timeout
        )

    async def _renew(self, conn: NativeConnection) -> None:
        tokens = await conn.call("account/auth/refresh", {"refreshToken": self.refresh_token})
        self.access_token, self.refresh_token = tokens["accessToken"], tokens["refreshToken"]
        await conn.connect(tokens["accessToken"], device_id=self.device_id, platform=self.platform)

    async def _establish(self) -> ConnectAck:
        """Steps 1-5 on a fresh (or the logged-in, not yet connected) connection."""
        self._ready.clear()
        conn = self._conn
        if conn is None or conn.is_closed or conn.ack is not None:
            conn = await self._open()
            self._conn = conn
        assert self.access_token is not None
        try:
            ack = await conn.connect(self.access_token, device_id=self.device_id, platform=self.platform)
        except Disconnected as exc:
            if exc.code != "TOKEN_EXPIRED" or self.refresh_token is None:
                raise
            conn = await self._open()
            self._conn = conn
            tokens = await conn.call("account/auth/refresh", {"refreshToken": self.refresh_token})
            self.access_token, self.refresh_token = tokens["accessToken"], tokens["refreshToken"]
            ack = await conn.connect(self.access_token, device_id=self.device_id, platform=self.platform)
        self.ack = ack
        self.user_id = ack.user_id
        if self._consumer is not None:
            self._consumer.cancel()
        self._consumer = asyncio.create_task(self._consume(conn))
        await self._sync(conn)
        await self._call_on(conn, "sync/session_ready")
        self.connects += 1
        self._ready.set()
        return ack

    async def _consume(self, conn: NativeConnection) -> None:
        while True:
            event = await conn.pushes.get()
            try:
                await self._on_live(conn, event)
            except (RpcError, Disconnected, TimeoutError) as exc:
                # A call for it failed or went unanswered (a gap fetch behind a backlog, a
                # busy server): keep consuming; the next gap or sync heals it. Ending here
                # would stop live delivery on a connection that is still open.
                log.warning("could not apply a live event (%r); the next sync heals it", exc)

    async def _supervise(self) -> None:
        while True:
            assert self._conn is not None
            reason = await self._conn.wait_closed()
            self._ready.clear()
            self.disconnects.append(reason)
            if self._closing or not self.reconnect or reason.code not in RECONNECTABLE:
                self._end(reason)
                return
            attempt = 0
            while True:
                delay = min(self.backoff_max, self.backoff_initial * 2**attempt) * random.uniform(0.5, 1.0)
                await asyncio.sleep(delay)
                attempt += 1
                try:
                    await self._establish()
                    break
                except Disconnected as exc:
                    if exc.code not in RECONNECTABLE:
                        self.disconnects.append(exc)
                        self._end(exc)
                        return
                except (OSError, TimeoutError, RpcError) as exc:
                    log.info("reconnect attempt %d failed: %r", attempt, exc)

    def _end(self, reason: Disconnected) -> None:
        if reason.code == CLIENT_CLOSED and self.ended is not None:
            return
        self.ended = reason
        self._ended.set()
