"""The protocol state of one native connection, without I/O (docs/PROTOCOL.md §4).

Bytes and timer ticks go in, actions come out: frames to send (`Send`), work for the
driver (`Authenticate`, `Call`) and the end of the connection (`Close`). The driver
(gateway_native/connection.py) runs the work and reports back with `authenticated`,
`rpc_finished` and friends. All rules of the wire protocol live here, so the three
transports cannot differ and the rules are tested without sockets or clocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from gateway_native.codec import CodecError, CodecErrorKind, Decoder, Frame, FrameType, encode_repaired

PROTOCOL_VERSION = 1
MAX_RPC_ID = 2**64 - 1
# PINGs a client may send in a burst, and their sustained rate; heartbeats need a few per minute.
PING_BURST = 16
PINGS_PER_SECOND = 2.0


class DisconnectCode(StrEnum):
    """`code` of a DISCONNECT frame. Shared with `app.errors.ErrorCode` where they overlap."""

    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    SESSION_REVOKED = "SESSION_REVOKED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    AUTH_TIMEOUT = "AUTH_TIMEOUT"
    IDLE_TIMEOUT = "IDLE_TIMEOUT"
    SERVER_SHUTDOWN = "SERVER_SHUTDOWN"
    INTERNAL = "INTERNAL"


class State(Enum):
    AWAITING_CONNECT = "awaiting_connect"
    AUTHENTICATING = "authenticating"  # CONNECT received, its token being checked
    READY = "ready"
    DRAINING = "draining"  # closing (shutdown, revoked): no new RPCs, in-flight ones finish
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame_bytes: int = 1024 * 1024
    max_inflight_rpcs: int = 64
    auth_deadline_seconds: float = 10.0
    idle_timeout_seconds: float = 90.0


# -- actions for the driver ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes
    frame_type: FrameType


@dataclass(frozen=True, slots=True)
class Authenticate:
    token: str
    device_id: str
    platform: str
    renewal: bool  # a CONNECT on a ready connection: swap in a fresh token of the same session


@dataclass(frozen=True, slots=True)
class Call:
    id: int
    route: str
    args: Any


@dataclass(frozen=True, slots=True)
class Close:
    code: str
    reason: str


Action = Send | Authenticate | Call | Close


@dataclass(frozen=True, slots=True)
class RpcError:
    code: str
    message: str
    details: dict[str, Any] | None = None


class SessionObserver:
    """Counts for metrics; the default counts nothing."""

    def frame_in(self, frame_type: FrameType) -> None: ...

    def frame_out(self, frame_type: FrameType) -> None: ...

    def protocol_error(self, kind: str) -> None: ...

    def output_repaired(self, frame_type: FrameType, paths: list[str]) -> None: ...


_SILENT = SessionObserver()


class Session:
    def __init__(self, limits: Limits, now: float, observer: SessionObserver | None = None) -> None:
        self.limits = limits
        self.state = State.AWAITING_CONNECT
        self.inflight: set[int] = set()
        self.close_code: str | None = None
        self._closing: tuple[str, str] | None = None  # DRAINING: the DISCONNECT sent once drained
        self._observer = observer or _SILENT
        self._decoder = Decoder(limits.max_frame_bytes)
        self._auth_deadline = now + limits.auth_deadline_seconds
        self._last_heard = now
        self._ping_tokens = float(PING_BURST)
        self._ping_refilled = now
        self._connected_once = False

    # -- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        self._last_heard = now
        try:
            frames = self._decoder.feed(data)
        except CodecError as exc:
            actions = self._handle_frames(exc.frames, now)
            if self.state is State.CLOSED:
                return actions
            self._observer.protocol_error(exc.kind.value)
            code = DisconnectCode.PAYLOAD_TOO_LARGE if exc.kind is CodecErrorKind.FRAME_TOO_LARGE else None
            return actions + self._close(code or DisconnectCode.PROTOCOL_ERROR, exc.message)
        return self._handle_frames(frames, now)

    def _handle_frames(self, frames: list[Frame], now: float) -> list[Action]:
        actions: list[Action] = []
        for frame in frames:
            if self.state is State.CLOSED:
                break
            self._observer.frame_in(frame.type)
            actions += self._handle(frame, now)
        return actions

    def _handle(self, frame: Frame, now: float) -> list[Action]:
        if self.state is State.DRAINING:
            # The server is going away; requests that were not started are not run (the
            # client retries them after reconnecting elsewhere).
            return []
        handler = _HANDLERS.get(frame.type)
        if handler is None:
            return self._violation("unexpected_frame", f"{frame.type.name} is not sent by clients")
        return handler(self, frame.body, now)

    def _on_connect(self, body: dict[str, Any], now: float) -> list[Action]:
        if self.state is State.AUTHENTICATING:
            return self._violation("bad_connect", "CONNECT while the previous CONNECT is being checked")
        version = body.get("protocolVersion")
        if version != PROTOCOL_VERSION:
            return self._violation("bad_connect", f"unsupported protocolVersion {version!r}; this server speaks 1")
        token, device_id, platform = body.get("token"), body.get("deviceId"), body.get("platform", "")
        if not isinstance(token, str) or not token:
            return self._violation("bad_connect", "CONNECT needs a token (string)")
        if not isinstance(device_id, str) or not device_id:
            return self._violation("bad_connect", "CONNECT needs a deviceId (string)")
        if not isinstance(platform, str):
            return self._violation("bad_connect", "platform must be a string")
        renewal = self.state is State.READY
        if not renewal:
            self.state = State.AUTHENTICATING
        return [Authenticate(token=token, device_id=device_id, platform=platform, renewal=renewal)]

    def _on_rpc(self, body: dict[str, Any], now: float) -> list[Action]:
        rpc_id = body.get("id")
        if not isinstance(rpc_id, int) or isinstance(rpc_id, bool) or not 0 <= rpc_id <= MAX_RPC_ID:
            return self._violation("bad_rpc", "RPC id must be an unsigned integer")
        if rpc_id in self.inflight:
            return self._violation("bad_rpc", f"RPC id {rpc_id} is already in flight")
        route = body.get("route")
        if not isinstance(route, str) or not route:
            self._observer.protocol_error("bad_rpc")
            return [self._result(rpc_id, RpcError("PROTOCOL_ERROR", "RPC route must be a non-empty string"))]
        if len(self.inflight) >= self.limits.max_inflight_rpcs:
            # A typed answer, not a disconnect: the client may simply retry after a result.
            limit = self.limits.max_inflight_rpcs
            return [self._result(rpc_id, RpcError("RATE_LIMITED", f"more than {limit} RPCs in flight"))]
        self.inflight.add(rpc_id)
        return [Call(id=rpc_id, route=route, args=body.get("args"))]

    def _on_ping(self, body: dict[str, Any], now: float) -> list[Action]:
        elapsed = max(0.0, now - self._ping_refilled)
        self._ping_refilled = now
        self._ping_tokens = min(float(PING_BURST), self._ping_tokens + elapsed * PINGS_PER_SECOND)
        if self._ping_tokens < 1:
            self._observer.protocol_error("ping_flood")
            return self._close(DisconnectCode.RATE_LIMITED, "too many PINGs")
        self._ping_tokens -= 1
        reply: dict[str, Any] = {"t": body["t"]} if "t" in body else {}
        return [self._send(FrameType.PONG, reply)]

    def _on_ignored(self, body: dict[str, Any], now: float) -> list[Action]:
        # PUSH_ACK is informational (delivery is tracked by pts); PONG answers a server PING.
        return []

    def _on_disconnect(self, body: dict[str, Any], now: float) -> list[Action]:
        # The client says goodbye: close without answering.
        self.state = State.CLOSED
        self.close_code = "CLIENT_CLOSED"
        return [Close(code="CLIENT_CLOSED", reason=str(body.get("reason", ""))[:200])]

    # -- results of the driver's work ------------------------------------------------------

    def authenticated(self, *, session_id: str, user_id: str, server_time_ms: int, update_seq: int) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        if self.state is State.AUTHENTICATING:
            self.state = State.READY
        self._connected_once = True
        body = {"sessionId": session_id, "userId": user_id, "serverTime": server_time_ms, "updateSeq": update_seq}
        return [self._send(FrameType.CONNECT_ACK, body)]

    def authentication_failed(self, code: str, message: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        return self._close(code, message)

    def rpc_finished(
        self, rpc_id: int, *, data: dict[str, Any] | None = None, error: RpcError | None = None
    ) -> list[Action]:
        self.inflight.discard(rpc_id)
        if self.state is State.CLOSED:
            return []
        actions: list[Action] = [self._result(rpc_id, error) if error is not None else self._ok(rpc_id, data or {})]
        if error is not None and error.code == DisconnectCode.SESSION_REVOKED and self._connected_once:
            # The device's session ended (the revocation hint from the bus may be late or lost).
            actions += self._close(DisconnectCode.SESSION_REVOKED, error.message)
        elif self.state is State.DRAINING and not self.inflight and self._closing is not None:
            actions += self._close(*self._closing)
        return actions

    def push(self, frame: bytes) -> list[Action]:
        """A PUSH frame, encoded once for every connection it goes to (gateway_native/push.py)."""
        if self.state is not State.READY:
            return []
        self._observer.frame_out(FrameType.PUSH)
        return [Send(frame, FrameType.PUSH)]

    def disconnect(self, code: str, reason: str) -> list[Action]:
        """The server ends the connection (kicked, revoked...): no new requests, and the
        DISCONNECT once the in-flight RPCs have answered (a device revoking its own session
        gets the answer to that call first)."""
        if self.state is State.CLOSED:
            return []
        self.state = State.DRAINING
        self._closing = (code, reason)
        if not self.inflight:
            return self._close(code, reason)
        return []

    def begin_shutdown(self) -> list[Action]:
        """Stop taking requests; DISCONNECT(SERVER_SHUTDOWN) once in-flight RPCs have answered."""
        return self.disconnect(DisconnectCode.SERVER_SHUTDOWN, "server shutting down")

    def connection_lost(self) -> None:
        if self.state is not State.CLOSED:
            if self._decoder.buffered:
                self._observer.protocol_error("truncated")
            self.state = State.CLOSED
            self.close_code = self.close_code or "CONNECTION_LOST"

    # -- time -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        if self.state is State.CLOSED:
            return None
        idle = self._last_heard + self.limits.idle_timeout_seconds
        if self.state in (State.AWAITING_CONNECT, State.AUTHENTICATING):
            return min(idle, self._auth_deadline)
        return idle

    def handle_timer(self, now: float) -> list[Action]:
        if self.state in (State.AWAITING_CONNECT, State.AUTHENTICATING) and now >= self._auth_deadline:
            self._observer.protocol_error("auth_timeout")
            return self._close(DisconnectCode.AUTH_TIMEOUT, "no successful CONNECT within the auth deadline")
        if self.state is not State.CLOSED and now >= self._last_heard + self.limits.idle_timeout_seconds:
            return self._close(DisconnectCode.IDLE_TIMEOUT, "nothing received within the idle timeout")
        return []

    # -- output -----------------------------------------------------------------------------

    def _send(self, frame_type: FrameType, body: dict[str, Any]) -> Send:
        data, repaired = encode_repaired(frame_type, body)
        if repaired:
            self._observer.output_repaired(frame_type, repaired)
        self._observer.frame_out(frame_type)
        return Send(data, frame_type)

    def _ok(self, rpc_id: int, data: dict[str, Any]) -> Send:
        return self._send(FrameType.RPC_RESULT, {"id": rpc_id, "ok": True, "data": data})

    def _result(self, rpc_id: int, error: RpcError) -> Send:
        wire: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.details:
            wire["details"] = error.details
            try:
                return self._send(FrameType.RPC_RESULT, {"id": rpc_id, "ok": False, "error": wire})
            except (TypeError, ValueError):  # details are best effort; code and message are the contract
                del wire["details"]
        return self._send(FrameType.RPC_RESULT, {"id": rpc_id, "ok": False, "error": wire})

    def _violation(self, kind: str, reason: str) -> list[Action]:
        self._observer.protocol_error(kind)
        return self._close(DisconnectCode.PROTOCOL_ERROR, reason)

    def _close(self, code: str, reason: str) -> list[Action]:
        self.state = State.CLOSED
        self.close_code = code
        return [self._send(FrameType.DISCONNECT, {"code": code, "reason": reason}), Close(code=code, reason=reason)]


_Handler = Callable[[Session, dict[str, Any], float], list[Action]]
_HANDLERS: dict[FrameType, _Handler] = {
    FrameType.CONNECT: Session._on_connect,
    FrameType.RPC: Session._on_rpc,
    FrameType.PING: Session._on_ping,
    FrameType.PUSH_ACK: Session._on_ignored,
    FrameType.PONG: Session._on_ignored,
    FrameType.DISCONNECT: Session._on_disconnect,
}
