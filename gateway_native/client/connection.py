"""One client connection to the gateway, at the level of frames (docs/PROTOCOL.md).

    conn = await NativeConnection.open(Endpoint.parse("tcp://127.0.0.1:9001"))
    tokens = await conn.call("account/auth/login", {...})     # allowed before CONNECT
    ack = await conn.connect(tokens["accessToken"], device_id="phone-1")
    await conn.call("message/send", {...})
    event = await conn.pushes.get()
    await conn.close()

`Client` (client.py) adds sync, the gap rule and reconnection on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass
from typing import Any

from gateway_native.client.transports import ClientTransport, Endpoint, open_transport
from gateway_native.codec import DEFAULT_MAX_FRAME_BYTES, CodecError, Decoder, Frame, FrameType, encode
from gateway_native.session import PROTOCOL_VERSION

CONNECTION_LOST = "CONNECTION_LOST"  # the stream ended without a DISCONNECT frame
CLIENT_CLOSED = "CLIENT_CLOSED"


class RpcError(Exception):
    """An RPC answered with `ok: false`; `code` is the stable error code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


class Disconnected(Exception):
    """The connection ended; `code`/`reason` come from the server's DISCONNECT frame."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class ConnectAck:
    session_id: str
    user_id: str
    server_time: int
    update_seq: int


class NativeConnection:
    def __init__(
        self,
        transport: ClientTransport,
        *,
        max_inflight: int = 64,
        ping_interval: float | None = 30.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        rpc_timeout: float = 30.0,
    ) -> None:
        self._transport = transport
        self.rpc_timeout = rpc_timeout  # also bounds CONNECT and PING round trips
        self._decoder = Decoder(max_frame_bytes)
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._connect_waiter: asyncio.Future[ConnectAck] | None = None
        self._pongs: dict[int, asyncio.Future[None]] = {}
        # Stay under the server's in-flight limit instead of collecting RATE_LIMITED answers.
        self._slots = asyncio.Semaphore(max_inflight)
        self.pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: asyncio.Future[Disconnected] = asyncio.get_running_loop().create_future()
        self.ack: ConnectAck | None = None
        self._closer: asyncio.Task[None] | None = None
        self._reader = asyncio.create_task(self._read())
        self._pinger = asyncio.create_task(self._keepalive(ping_interval)) if ping_interval else None

    @classmethod
    async def open(cls, endpoint: Endpoint, **options: Any) -> NativeConnection:
        return cls(await open_transport(endpoint), **options)

    @property
    def is_closed(self) -> bool:
        return self.closed.done()

    # -- requests ---------------------------------------------------------------------------

    async def connect(self, token: str, *, device_id: str, platform: str = "other") -> ConnectAck:
        """CONNECT (or, on a connected connection, renew its token); raises Disconnected when refused."""
        self._check_open()
        loop = asyncio.get_running_loop()
        self._connect_waiter = waiter = loop.create_future()
        body = {"token": token, "deviceId": device_id, "platform": platform, "protocolVersion": PROTOCOL_VERSION}
        await self._send(FrameType.CONNECT, body)
        ack = await asyncio.wait_for(waiter, self.rpc_timeout)
        self.ack = ack
        return ack

    async def call(self, route: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a route; its data, or RpcError with the same code GraphQL would give."""
        async with self._slots:
            self._check_open()
            rpc_id = next(self._ids)
            waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[rpc_id] = waiter
            try:
                body: dict[str, Any] = {"id": rpc_id, "route": route}
                if args is not None:
                    body["args"] = args
                await self._send(FrameType.RPC, body)
                result = await asyncio.wait_for(waiter, self.rpc_timeout)
            finally:
                self._pending.pop(rpc_id, None)
        if result.get("ok"):
            data: dict[str, Any] = result.get("data") or {}
            return data
        error = result.get("error") or {}
        raise RpcError(str(error.get("code")), str(error.get("message")), error.get("details"))

    async def ping(self) -> float:
        """Round trip time of a PING, in seconds."""
        self._check_open()
        stamp = time.monotonic_ns()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[stamp] = waiter
        try:
            await self._send(FrameType.PING, {"t": stamp})
            await asyncio.wait_for(waiter, self.rpc_timeout)
        finally:
            self._pongs.pop(stamp, None)
        return (time.monotonic_ns() - stamp) / 1e9

    async def send_raw(self, data: bytes) -> None:
        """Bytes as they are (tests of the server's handling of bad input)."""
        await self._transport.send(data)

    async def ack_push(self, *, pts: int | None = None, seq: int | None = None) -> None:
        body = {k: v for k, v in (("pts", pts), ("seq", seq)) if v is not None}
        await self._send(FrameType.PUSH_ACK, body)

    async def close(self) -> None:
        if not self.closed.done():
            with contextlib.suppress(Exception):
                await self._send(FrameType.DISCONNECT, {"code": CLIENT_CLOSED, "reason": "bye"})
            self._finish(Disconnected(CLIENT_CLOSED, "closed by the client"))
        await self._stop_tasks()
        await self._transport.close()
        if self._closer is not None:
            with contextlib.suppress(Exception):
                await self._closer

    async def wait_closed(self) -> Disconnected:
        return await asyncio.shield(self.closed)

    # -- plumbing ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed.done():
            raise self.closed.result()

    async def _send(self, frame_type: FrameType, body: dict[str, Any]) -> None:
        try:
            await self._transport.send(encode(frame_type, body))
        except (ConnectionError, OSError) as exc:
            self._finish(Disconnected(CONNECTION_LOST, f"send failed: {exc}"))
            raise self.closed.result() from None

    async def _read(self) -> None:
        ended = Disconnected(CONNECTION_LOST, "the server closed the connection")
        try:
            while not self.closed.done():
                data = await self._transport.receive()
                if not data:
                    break
                for frame in self._decoder.feed(data):
                    self._on_frame(frame)
        except CodecError as exc:
            ended = Disconnected("PROTOCOL_ERROR", f"bad frame from the server: {exc.message}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            ended = Disconnected(CONNECTION_LOST, f"read failed: {exc!r}")
        self._finish(ended)

    def _on_frame(self, frame: Frame) -> None:
        body = frame.body
        if frame.type is FrameType.RPC_RESULT:
            waiter = self._pending.get(body.get("id", -1))
            if waiter is not None and not waiter.done():
                waiter.set_result(body)
        elif frame.type is FrameType.PUSH:
            self.pushes.put_nowait(body.get("event") or {})
        elif frame.type is FrameType.CONNECT_ACK:
            if self._connect_waiter is not None and not self._connect_waiter.done():
                self._connect_waiter.set_result(
                    ConnectAck(
                        session_id=str(body.get("sessionId")),
                        user_id=str(body.get("userId")),
                        server_time=int(body.get("serverTime", 0)),
                        update_seq=int(body.get("updateSeq", 0)),
                    )
                )
        elif frame.type is FrameType.PONG:
            waiter_p = self._pongs.get(body.get("t", -1))
            if waiter_p is not None and not waiter_p.done():
                waiter_p.set_result(None)
        elif frame.type is FrameType.PING:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().create_task(self._send(FrameType.PONG, {"t": body.get("t")}))
        elif frame.type is FrameType.DISCONNECT:
            self._finish(Disconnected(str(body.get("code")), str(body.get("reason", ""))))

    def _finish(self, reason: Disconnected) -> None:
        if self.closed.done():
            return
        self.closed.set_result(reason)
        waiters: list[asyncio.Future[Any]] = [*self._pending.values(), *self._pongs.values()]
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(reason)
        if self._connect_waiter is not None and not self._connect_waiter.done():
            self._connect_waiter.set_exception(reason)
        # After a DISCONNECT the server closes; closing our side too ends QUIC/WS promptly.
        self._closer = asyncio.get_running_loop().create_task(self._transport.close())

    async def _keepalive(self, interval: float) -> None:
        with contextlib.suppress(Disconnected, ConnectionError, OSError):
            while not self.closed.done():
                await asyncio.sleep(interval)
                try:
                    await self.ping()
                except TimeoutError:
                    # No PONG: the path is dead without a FIN (half-open TCP, a lost QUIC
                    # path). Give up on this connection so the client reconnects.
                    self._finish(Disconnected(CONNECTION_LOST, "no answer to PING"))
                    return

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        for task in (self._reader, self._pinger):
            if task is not None and task is not current and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
