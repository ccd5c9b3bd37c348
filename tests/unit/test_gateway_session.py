"""The connection state machine: bytes and clock ticks in, actions out. No sockets, no
sleeping: time is a number handed in."""

from __future__ import annotations

import struct
from typing import Any

from gateway_native.codec import Decoder, Frame, FrameType, encode
from gateway_native.session import (
    PING_BURST,
    Action,
    Authenticate,
    Call,
    Close,
    Limits,
    RpcError,
    Send,
    Session,
    SessionObserver,
    State,
)

LIMITS = Limits(max_frame_bytes=4096, max_inflight_rpcs=3, auth_deadline_seconds=10, idle_timeout_seconds=60)
CONNECT = {"token": "tok", "deviceId": "phone", "platform": "ios", "protocolVersion": 1}


def sent(actions: list[Action]) -> list[Frame]:
    decoder = Decoder()
    return [f for a in actions if isinstance(a, Send) for f in decoder.feed(a.data)]


def closes(actions: list[Action]) -> list[Close]:
    return [a for a in actions if isinstance(a, Close)]


def frame(frame_type: FrameType, body: dict[str, Any]) -> bytes:
    return encode(frame_type, body)


def ready_session(now: float = 0.0, limits: Limits = LIMITS) -> Session:
    session = Session(limits, now)
    [auth] = session.receive_data(frame(FrameType.CONNECT, CONNECT), now)
    assert isinstance(auth, Authenticate)
    session.authenticated(session_id="5", user_id="9", server_time_ms=1000, update_seq=3)
    return session


def assert_disconnected(actions: list[Action], code: str) -> str:
    frames = sent(actions)
    assert frames[-1].type is FrameType.DISCONNECT and frames[-1].body["code"] == code, frames
    [close] = closes(actions)
    assert close.code == code
    return str(frames[-1].body["reason"])


def test_connect_asks_the_driver_to_authenticate_then_acknowledges() -> None:
    session = Session(LIMITS, 0.0)
    actions = session.receive_data(frame(FrameType.CONNECT, CONNECT), 0.0)
    assert actions == [Authenticate(token="tok", device_id="phone", platform="ios", renewal=False)]
    assert session.state is State.AUTHENTICATING
    ack = sent(session.authenticated(session_id="5", user_id="9", server_time_ms=1000, update_seq=3))
    assert ack == [Frame(FrameType.CONNECT_ACK, {"sessionId": "5", "userId": "9", "serverTime": 1000, "updateSeq": 3})]
    assert session.state is State.READY


def test_a_refused_connect_is_a_disconnect_with_the_error_code() -> None:
    session = Session(LIMITS, 0.0)
    session.receive_data(frame(FrameType.CONNECT, CONNECT), 0.0)
    reason = assert_disconnected(session.authentication_failed("SESSION_REVOKED", "kicked"), "SESSION_REVOKED")
    assert reason == "kicked"
    assert session.state is State.CLOSED
    assert session.receive_data(frame(FrameType.PING, {}), 1.0) == []


def test_connect_on_a_ready_connection_renews_its_token() -> None:
    session = ready_session()
    [auth] = session.receive_data(frame(FrameType.CONNECT, {**CONNECT, "token": "fresh"}), 1.0)
    assert auth == Authenticate(token="fresh", device_id="phone", platform="ios", renewal=True)
    assert session.state is State.READY


def test_connect_needs_version_1_a_token_and_a_device() -> None:
    for body in (
        {**CONNECT, "protocolVersion": 2},
        {**CONNECT, "token": 5},
        {k: v for k, v in CONNECT.items() if k != "deviceId"},
        {**CONNECT, "platform": ["ios"]},
    ):
        session = Session(LIMITS, 0.0)
        assert_disconnected(session.receive_data(frame(FrameType.CONNECT, body), 0.0), "PROTOCOL_ERROR")


def test_rpcs_run_concurrently_and_answer_by_id() -> None:
    session = ready_session()
    actions = session.receive_data(
        frame(FrameType.RPC, {"id": 1, "route": "a/b", "args": {"x": 1}})
        + frame(FrameType.RPC, {"id": 2, "route": "c"}),
        1.0,
    )
    assert actions == [Call(id=1, route="a/b", args={"x": 1}), Call(id=2, route="c", args=None)]
    assert sent(session.rpc_finished(2, data={"ok": True})) == [
        Frame(FrameType.RPC_RESULT, {"id": 2, "ok": True, "data": {"ok": True}})
    ]
    error = sent(session.rpc_finished(1, error=RpcError("NOT_FOUND", "channel not found", {"field": "channelId"})))
    assert error == [
        Frame(
            FrameType.RPC_RESULT,
            {
                "id": 1,
                "ok": False,
                "error": {"code": "NOT_FOUND", "message": "channel not found", "details": {"field": "channelId"}},
            },
        )
    ]
    assert session.inflight == set()


def test_rpcs_before_connect_run_anonymously() -> None:
    # Login over the gateway: the shared path refuses routes that need a user.
    session = Session(LIMITS, 0.0)
    assert session.receive_data(frame(FrameType.RPC, {"id": 1, "route": "account/auth/login"}), 0.0) == [
        Call(id=1, route="account/auth/login", args=None)
    ]


def test_too_many_rpcs_in_flight_get_a_typed_error_not_a_disconnect() -> None:
    session = ready_session()
    data = b"".join(frame(FrameType.RPC, {"id": i, "route": "slow"}) for i in range(5))
    actions = session.receive_data(data, 1.0)
    assert [a.id for a in actions if isinstance(a, Call)] == [0, 1, 2]
    refused = sent(actions)
    assert [f.body["id"] for f in refused] == [3, 4]
    assert all(f.body["error"]["code"] == "RATE_LIMITED" for f in refused)
    assert session.state is State.READY
    session.rpc_finished(0, data={})
    assert session.receive_data(frame(FrameType.RPC, {"id": 9, "route": "slow"}), 2.0) == [Call(9, "slow", None)]


def test_bad_rpc_ids_and_reused_ids_end_the_connection() -> None:
    for rpc_id in (-1, "1", 1.5, None, True, 2**64):
        session = ready_session()
        body = {"id": rpc_id, "route": "x"} if rpc_id != 2**64 else {"route": "x"}
        assert_disconnected(session.receive_data(frame(FrameType.RPC, body), 1.0), "PROTOCOL_ERROR")
    session = ready_session()
    session.receive_data(frame(FrameType.RPC, {"id": 1, "route": "x"}), 1.0)
    assert_disconnected(session.receive_data(frame(FrameType.RPC, {"id": 1, "route": "y"}), 1.0), "PROTOCOL_ERROR")


def test_a_missing_route_is_answered_with_protocol_error() -> None:
    session = ready_session()
    [result] = sent(session.receive_data(frame(FrameType.RPC, {"id": 4, "route": 12}), 1.0))
    assert result.body == {
        "id": 4,
        "ok": False,
        "error": {"code": "PROTOCOL_ERROR", "message": "RPC route must be a non-empty string"},
    }
    assert session.state is State.READY


def test_an_rpc_refused_as_session_revoked_closes_the_connection_after_the_answer() -> None:
    session = ready_session()
    session.receive_data(frame(FrameType.RPC, {"id": 1, "route": "x"}), 1.0)
    actions = session.rpc_finished(1, error=RpcError("SESSION_REVOKED", "this device session was kicked"))
    frames = sent(actions)
    assert [f.type for f in frames] == [FrameType.RPC_RESULT, FrameType.DISCONNECT]
    assert frames[1].body == {"code": "SESSION_REVOKED", "reason": "this device session was kicked"}


def test_ping_gets_pong_with_the_same_t() -> None:
    session = ready_session()
    assert sent(session.receive_data(frame(FrameType.PING, {"t": 77}), 1.0)) == [Frame(FrameType.PONG, {"t": 77})]


def test_a_ping_flood_is_disconnected_as_rate_limited() -> None:
    session = ready_session()
    flood = b"".join(frame(FrameType.PING, {"t": i}) for i in range(PING_BURST + 5))
    actions = session.receive_data(flood, 1.0)
    assert [f.type for f in sent(actions)] == [FrameType.PONG] * PING_BURST + [FrameType.DISCONNECT]
    assert closes(actions)[0].code == "RATE_LIMITED"


def test_steady_heartbeats_are_never_a_flood() -> None:
    session = ready_session()
    for second in range(1, 1000):
        assert sent(session.receive_data(frame(FrameType.PING, {"t": second}), float(second)))[0].type is FrameType.PONG


def test_no_connect_within_the_auth_deadline_is_disconnected() -> None:
    session = Session(LIMITS, 100.0)
    assert session.next_deadline() == 110.0
    session.receive_data(frame(FrameType.PING, {}), 105.0)
    assert session.handle_timer(109.9) == []
    assert_disconnected(session.handle_timer(110.0), "AUTH_TIMEOUT")


def test_a_silent_connection_hits_the_idle_timeout_and_frames_push_it_back() -> None:
    session = ready_session(now=0.0)
    assert session.next_deadline() == 60.0
    session.receive_data(frame(FrameType.PING, {}), 50.0)
    assert session.handle_timer(60.0) == []
    assert session.next_deadline() == 110.0
    assert_disconnected(session.handle_timer(110.0), "IDLE_TIMEOUT")


def test_codec_errors_end_the_connection_after_the_good_frames_before_them() -> None:
    session = ready_session()
    data = frame(FrameType.PING, {"t": 1}) + struct.pack(">IB", 2, 42) + b"\x80"
    actions = session.receive_data(data, 1.0)
    assert [f.type for f in sent(actions)] == [FrameType.PONG, FrameType.DISCONNECT]
    assert "unknown frame type 42" in assert_disconnected(actions, "PROTOCOL_ERROR")


def test_an_oversized_frame_is_payload_too_large() -> None:
    session = ready_session()
    assert_disconnected(session.receive_data(struct.pack(">I", 0xFFFFFFFF), 1.0), "PAYLOAD_TOO_LARGE")


def test_frames_only_the_server_sends_are_protocol_errors() -> None:
    for frame_type in (FrameType.CONNECT_ACK, FrameType.RPC_RESULT, FrameType.PUSH):
        session = ready_session()
        assert_disconnected(session.receive_data(frame(frame_type, {}), 1.0), "PROTOCOL_ERROR")


def test_push_ack_and_pong_are_accepted_silently() -> None:
    session = ready_session()
    assert session.receive_data(frame(FrameType.PUSH_ACK, {"pts": 3}) + frame(FrameType.PONG, {"t": 1}), 1.0) == []
    assert session.state is State.READY


def test_pushes_go_out_only_on_a_ready_connection() -> None:
    session = Session(LIMITS, 0.0)
    push = encode(FrameType.PUSH, {"event": {"__typename": "X"}})
    assert session.push(push) == []
    session = ready_session()
    assert sent(session.push(push)) == [Frame(FrameType.PUSH, {"event": {"__typename": "X"}})]


def test_the_client_saying_goodbye_closes_without_an_answer() -> None:
    session = ready_session()
    actions = session.receive_data(frame(FrameType.DISCONNECT, {"code": "CLIENT_CLOSED", "reason": "bye"}), 1.0)
    assert actions == [Close(code="CLIENT_CLOSED", reason="bye")]


def test_shutdown_lets_in_flight_rpcs_answer_then_disconnects() -> None:
    session = ready_session()
    session.receive_data(frame(FrameType.RPC, {"id": 1, "route": "x"}), 1.0)
    assert session.begin_shutdown() == []
    # requests arriving now are not started
    assert session.receive_data(frame(FrameType.RPC, {"id": 2, "route": "x"}), 1.0) == []
    frames = sent(session.rpc_finished(1, data={"done": True}))
    assert [f.type for f in frames] == [FrameType.RPC_RESULT, FrameType.DISCONNECT]
    assert frames[1].body["code"] == "SERVER_SHUTDOWN"


def test_shutdown_of_an_idle_connection_disconnects_at_once() -> None:
    assert_disconnected(ready_session().begin_shutdown(), "SERVER_SHUTDOWN")


def test_the_observer_counts_frames_and_protocol_errors() -> None:
    class Counting(SessionObserver):
        def __init__(self) -> None:
            self.seen: list[tuple[str, str]] = []

        def frame_in(self, frame_type: FrameType) -> None:
            self.seen.append(("in", frame_type.name))

        def frame_out(self, frame_type: FrameType) -> None:
            self.seen.append(("out", frame_type.name))

        def protocol_error(self, kind: str) -> None:
            self.seen.append(("error", kind))

    observer = Counting()
    session = Session(LIMITS, 0.0, observer)
    session.receive_data(frame(FrameType.PING, {}) + b"\x00\x00\x00\x00", 0.0)
    assert observer.seen == [("in", "PING"), ("out", "PONG"), ("error", "empty_frame"), ("out", "DISCONNECT")]


def test_a_connection_lost_mid_frame_counts_as_truncated() -> None:
    errors: list[str] = []

    class Errors(SessionObserver):
        def protocol_error(self, kind: str) -> None:
            errors.append(kind)

    session = Session(LIMITS, 0.0, Errors())
    session.receive_data(frame(FrameType.PING, {})[:3], 0.0)
    session.connection_lost()
    assert errors == ["truncated"]
    assert session.state is State.CLOSED


def test_a_revoked_connection_answers_its_calls_in_flight_then_disconnects() -> None:
    """A device revoking its own session (device/revoke_all) gets that call's answer first."""
    session = ready_session()
    session.receive_data(frame(FrameType.RPC, {"id": 1, "route": "device/revoke_all"}), 1.0)
    assert session.disconnect("SESSION_REVOKED", "revoked") == []  # the call is still running
    assert session.receive_data(frame(FrameType.RPC, {"id": 2, "route": "x"}), 1.5) == []  # nothing new starts
    actions = session.rpc_finished(1, data={"count": 2})
    assert [f.type for f in sent(actions)] == [FrameType.RPC_RESULT, FrameType.DISCONNECT]
    assert sent(actions)[0].body == {"id": 1, "ok": True, "data": {"count": 2}}
    assert closes(actions)[0].code == "SESSION_REVOKED" and session.state is State.CLOSED


def test_a_connection_with_nothing_in_flight_is_disconnected_at_once() -> None:
    session = ready_session()
    assert closes(session.disconnect("SESSION_REVOKED", "kicked"))[0].code == "SESSION_REVOKED"
    assert session.state is State.CLOSED
