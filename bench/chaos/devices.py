"""Devices under chaos: the docs/SYNC.md client over each door, recording what it applies.

Both keep the client algorithm (held stream, sync, session_ready, gap rule) and survive
servers going away: a GraphQL device sends each request to any live server and
reopens its WebSocket (then syncs) when it drops; a native device reconnects through
the SDK's own loop, to any server. They record every channel event they apply, live or
through sync, for the checker, and do not check anything themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from typing import Any

import httpx
import websockets

from bench.chaos.checker import Applied, Checker, Send
from gateway_native.client import Client
from gateway_native.client.connection import Disconnected, NativeConnection, RpcError
from gateway_native.client.transports import Endpoint, TcpTransport
from tests.support.sync_client import EVENT_FIELDS, ClientError, SyncClient


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError | RpcError):
        return str(exc.code or "UNKNOWN")
    if isinstance(exc, Disconnected):
        return f"DISCONNECTED:{exc.code}"
    if isinstance(exc, TimeoutError):
        return "TIMEOUT"
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return "CONNECT_REFUSED"  # nothing reached a server: the client tries another
    if isinstance(exc, httpx.TransportError | OSError | websockets.WebSocketException):
        return "CONNECTION_DROPPED"  # the request may or may not have been served
    return type(exc).__name__


class GraphQLDevice(SyncClient):
    def __init__(self, servers: list[str], username: str, password: str, device_id: str, checker: Checker) -> None:
        super().__init__(servers[0], username, password, device_id)
        self.servers = servers
        self.checker = checker
        self.name = f"{username}/{device_id}"
        self._live = False
        self._keeper: asyncio.Task[None] | None = None
        self._down_until: dict[str, float] = {}
        self._reading = asyncio.Event()
        self._reading.set()
        self.reconnects = 0
        self.history_resets = 0  # gaps over messaging.max_difference, filled from history
        # A phone on a slow link (`slow_link`): a small TCP receive window and no
        # compression, so what the server sends it is not absorbed by big buffers.
        self.receive_window = 0

    def _pick(self) -> str:
        """A server not seen failing in the last few seconds (any, if all were)."""
        now = time.monotonic()
        healthy = [s for s in self.servers if self._down_until.get(s, 0) <= now]
        return random.choice(healthy or self.servers)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        server = self._pick()
        try:
            response = await self.http.post(
                server + "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        except httpx.TransportError:
            self._down_until[server] = time.monotonic() + 3.0
            raise
        body = response.json()
        if body.get("errors"):
            raise ClientError(body["errors"])
        return dict(body["data"])

    # -- recording ----------------------------------------------------------------------------

    def _apply_channel_event(self, event: dict[str, Any]) -> None:
        message = event.get("message") if event["__typename"] == "MessageEvent" else None
        cid = message.get("clientMsgId") if isinstance(message, dict) else None
        self.checker.apply(self.name, Applied(event["channelId"], event["pts"], cid, self._live, time.monotonic()))
        self.channel_pts[event["channelId"]] = max(self.channel_pts.get(event["channelId"], 0), event["pts"])
        self._changed.set()

    async def _on_live(self, event: dict[str, Any]) -> None:
        self._live = True
        try:
            await super()._on_live(event)
        finally:
            self._live = False

    async def _fetch_difference(self, channel_id: str) -> None:
        live, self._live = self._live, False
        try:
            await super()._fetch_difference(channel_id)
        finally:
            self._live = live

    async def _reset_from_history(self, channel_id: str) -> None:
        """Too far behind for a difference (over `messaging.max_difference`): docs/SYNC.md says
        fetch recent history and jump to the channel's pts; this device fetches all of the
        gap from history instead, so the checker can still account for every message."""
        self.history_resets += 1
        after = self.channel_pts.get(channel_id, 0)
        info = await self.gql("query($c: ID!) { syncGetChannelPts(input: {channelId: $c}) { channel { pts } } }",
                              {"c": channel_id})
        target = int(info["syncGetChannelPts"]["channel"]["pts"])
        while after < target:
            data = await self.gql(
                "query($c: ID!, $a: Int!) { messageHistoryGet(input: {channelId: $c, afterPts: $a, limit: 100, "
                "order: OLDEST_FIRST}) { messages { pts clientMsgId } hasMore } }",
                {"c": channel_id, "a": after},
            )
            page = data["messageHistoryGet"]
            for message in page["messages"]:
                if message["pts"] > target:
                    break
                self.checker.apply(
                    self.name, Applied(channel_id, message["pts"], message["clientMsgId"], False, time.monotonic())
                )
                after = message["pts"]
            if not page["hasMore"] or not page["messages"]:
                break
        self.channel_pts[channel_id] = max(self.channel_pts.get(channel_id, 0), target)
        self._changed.set()

    # -- a slow consumer -----------------------------------------------------------------------

    async def _read_live(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            await self._reading.wait()  # frozen: what the library already read waits here
            frame = json.loads(raw)
            if frame["type"] == "ping":
                await self._ws.send(json.dumps({"type": "pong"}))
                continue
            if frame["type"] == "next":
                await self._on_live(frame["payload"]["data"]["events"])

    async def freeze(self, thaw: asyncio.Event) -> str:
        """Read nothing from the live socket until `thaw`, as a suspended app: the socket
        is not read at all (no WebSocket pong either), and what the library had already
        read is not handled. Returns what became of the connection."""
        ws = self._ws
        transport = ws.transport
        self._reading.clear()
        transport.pause_reading()
        try:
            await thaw.wait()
        finally:
            if not transport.is_closing():
                transport.resume_reading()
            self._reading.set()
        return "open" if ws is self._ws and not transport.is_closing() else "closed"

    # -- staying connected --------------------------------------------------------------------

    async def go_live(self) -> None:
        await self._open_stream()
        self._keeper = asyncio.create_task(self._keep_live())

    async def _open_stream(self) -> None:
        self.base_url = self._pick()
        ws_url = self.base_url.replace("http", "ws", 1) + "/graphql"
        # No client-side keepalive pings: the protocol's own ping/pong is answered in
        # _read_live, and a frozen device (`freeze`) must not close its own connection.
        options: dict[str, Any] = {}
        if self.receive_window:
            options = {"sock": await _small_window_socket(self.base_url, self.receive_window), "compression": None}
        self._ws = await websockets.connect(
            ws_url, subprotocols=["graphql-transport-ws"], open_timeout=5, ping_interval=None, **options  # type: ignore[list-item]
        )
        await self._ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}})
        )
        ack = json.loads(await asyncio.wait_for(self._ws.recv(), 10))
        if ack.get("type") != "connection_ack":
            raise ConnectionError(f"no connection_ack: {ack}")
        query = "subscription { events(input: {holdUntilReady: true}) { %s } }" % EVENT_FIELDS
        await self._ws.send(json.dumps({"id": "events", "type": "subscribe", "payload": {"query": query}}))
        await self.sync()
        await self.gql("mutation { syncSessionReady { ok seq } }")
        self._reader = asyncio.create_task(self._read_live())

    async def _keep_live(self) -> None:
        while True:
            assert self._reader is not None
            with contextlib.suppress(Exception):
                await self._reader
            with contextlib.suppress(Exception):
                await self._ws.close()
            backoff = 0.2
            while True:
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                try:
                    await self._open_stream()
                    self.reconnects += 1
                    break
                except Exception:
                    backoff = min(backoff * 2, 3.0)

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keeper
        await self.close()

    async def send(self, channel: str, text: str, cid: str) -> int:
        return int((await self.send_text(channel, text, client_msg_id=cid))["pts"])


class NativeDevice(Client):
    def __init__(self, endpoints: list[str], username: str, device_id: str, checker: Checker) -> None:
        super().__init__(endpoints[0], device_id=device_id, backoff_initial=0.2, backoff_max=3.0, rpc_timeout=15.0)
        self.endpoints = [Endpoint.parse(e) for e in endpoints]
        self.checker = checker
        self.name = f"{username}/{device_id}"
        self._live = False
        self.receive_window = 0  # as GraphQLDevice.receive_window
        self.history_resets = 0

    async def _open(self) -> NativeConnection:
        self.endpoint = random.choice(self.endpoints)
        if not self.receive_window:
            return await asyncio.wait_for(super()._open(), 5)
        sock = await _small_window_socket(f"tcp://{self.endpoint.host}:{self.endpoint.port}", self.receive_window)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(sock=sock, limit=1 << 20), 5)
        return NativeConnection(
            TcpTransport(reader, writer), ping_interval=self.ping_interval, rpc_timeout=self.rpc_timeout
        )

    def _apply_channel_event(self, event: dict[str, Any]) -> None:
        message = event.get("message") if event.get("__typename") == "MessageEvent" else None
        cid = message.get("clientMsgId") if isinstance(message, dict) else None
        self.checker.apply(self.name, Applied(event["channelId"], event["pts"], cid, self._live, time.monotonic()))
        self.channel_pts[event["channelId"]] = max(self.channel_pts.get(event["channelId"], 0), event["pts"])
        self._changed.set()

    async def _on_live(self, conn: NativeConnection, event: dict[str, Any]) -> None:
        self._live = True
        try:
            await super()._on_live(conn, event)
        finally:
            self._live = False

    async def _reset_from_history(self, conn: NativeConnection, channel_id: str) -> None:
        """As GraphQLDevice._reset_from_history: all of the gap, from history."""
        self.history_resets += 1
        after = self.channel_pts.get(channel_id, 0)
        target = int((await self._call_on(conn, "sync/get_channel_pts", {"channelId": channel_id}))["channel"]["pts"])
        while after < target:
            args = {"channelId": channel_id, "afterPts": after, "limit": 100, "order": "OLDEST_FIRST"}
            page = await self._call_on(conn, "message/history/get", args)
            for message in page["messages"]:
                if message["pts"] > target:
                    break
                self.checker.apply(
                    self.name,
                    Applied(channel_id, message["pts"], message.get("clientMsgId"), False, time.monotonic()),
                )
                after = message["pts"]
            if not page["hasMore"] or not page["messages"]:
                break
        self.channel_pts[channel_id] = max(self.channel_pts.get(channel_id, 0), target)
        self._changed.set()

    async def _fetch_difference(self, conn: NativeConnection, channel_id: str) -> None:
        live, self._live = self._live, False
        try:
            await super()._fetch_difference(conn, channel_id)
        finally:
            self._live = live

    async def send(self, channel: str, text: str, cid: str) -> int:
        return int((await self.send_text(channel, text, client_msg_id=cid))["pts"])

    async def freeze(self, thaw: asyncio.Event) -> str:
        """Read nothing from the socket until `thaw` and send no PING, as a suspended app
        (the caller makes sure no call is in flight). Returns what became of the connection."""
        conn = self.connection
        assert conn is not None and isinstance(conn._transport, TcpTransport)
        transport = conn._transport._writer.transport
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()
        if conn._pinger is not None:
            conn._pinger.cancel()
        try:
            await thaw.wait()
        finally:
            if not conn.is_closed and not transport.is_closing():
                transport.resume_reading()
                if self.ping_interval:
                    conn._pinger = asyncio.create_task(conn._keepalive(self.ping_interval))
        return "open" if conn is self.connection and not conn.is_closed else "closed"

    async def stop(self) -> None:
        await self.close()


Device = GraphQLDevice | NativeDevice


def slow_link(device: Device, receive_window: int = 4096) -> None:
    """From its next connection on, the device has a small TCP receive window (and no
    WebSocket compression): the server's socket buffers fill after a few hundred events
    instead of thousands, as for a phone on a slow link."""
    device.receive_window = receive_window


async def _small_window_socket(url: str, receive_window: int) -> socket.socket:
    """A connected TCP socket whose receive buffer is fixed at `receive_window` (set before
    connecting, so the window the peer sees is small from the start)."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_window)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, int(port))), 5)
    except BaseException:
        sock.close()
        raise
    return sock


class Deadline:
    """When retrying stops (moved from "never" to a time when the load ends)."""

    at: float = float("inf")


async def send_until_acknowledged(
    device: Device, checker: Checker, channel: str, cid: str, *, give_up: Deadline
) -> Send:
    """One message: retried with the same clientMsgId until acknowledged or `give_up.at`."""
    record = checker.send(Send(cid, channel, device.name, started=time.monotonic()))
    delay = 0.1
    while True:
        try:
            pts = await asyncio.wait_for(device.send(channel, f"text {cid}", cid), 15)
        except Exception as exc:
            record.errors.append((time.monotonic(), error_code(exc)))
            if time.monotonic() >= give_up.at:
                return record
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 2.0)
            continue
        record.acked_pts, record.acked_at = pts, time.monotonic()
        return record
