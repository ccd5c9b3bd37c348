"""Generated native frames against the sans-I/O codec and session, in process.

Each simulated connection gets a random mix of well-formed frames of every type (with
random bodies), MessagePack of random shapes, random bytes, length fields of 0, 1 and
4 GiB, and chunks split at random points; the driver plays the gateway's part
(authentication and RPC results, some failing, some with unencodable text). Checked for
every connection: no exception escapes the session, everything the session sends is a
well-formed frame, and the connection either ended with a DISCONNECT carrying a
documented code (and then ignores whatever follows), or still answers a PING.

Used by tests/unit/test_frame_fuzz.py (bounded) and bench/fuzz.py (1,000,000 frames).
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from typing import Any

import msgpack

from gateway_native.codec import Decoder, FrameType
from gateway_native.session import (
    Authenticate,
    Call,
    Close,
    DisconnectCode,
    Limits,
    RpcError,
    Send,
    Session,
    SessionObserver,
    State,
)

DISCONNECT_CODES = {code.value for code in DisconnectCode} | {"CLIENT_CLOSED"}
LIMITS = Limits(max_frame_bytes=64 * 1024, max_inflight_rpcs=8, auth_deadline_seconds=5, idle_timeout_seconds=30)


@dataclass
class FuzzReport:
    frames: int = 0
    connections: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    alive: int = 0

    def add(self, other: FuzzReport) -> None:
        self.frames += other.frames
        self.connections += other.connections
        self.alive += other.alive
        for code, count in other.closed.items():
            self.closed[code] = self.closed.get(code, 0) + count


def frame(frame_type: int, body: Any) -> bytes:
    payload = msgpack.packb(body, use_bin_type=True)
    return struct.pack(">IB", len(payload) + 1, frame_type) + payload


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.randint(-(2**63), 2**64 - 1)
    if kind == 1:
        return "".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0xD7FF)))) for _ in range(rng.randrange(12)))
    if kind == 2:
        return rng.random() * 10 ** rng.randrange(-5, 20)
    if kind == 3:
        return rng.choice((None, True, False))
    if kind == 4:
        return rng.randbytes(rng.randrange(16))
    if kind == 5:
        return rng.choice(("", "x" * 300, "\u202e", "\U0001f600", "message/send", "system/health"))
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def random_key(rng: random.Random) -> str:
    return rng.choice(("id", "route", "args", "token", "deviceId", "platform", "protocolVersion", "t", "code", "x"))


def random_frame(rng: random.Random) -> bytes:
    """One frame's worth of bytes (or garbage pretending to be one)."""
    roll = rng.random()
    if roll < 0.12:
        body = {"token": "tok", "deviceId": "dev", "platform": "fuzz", "protocolVersion": 1}
        if rng.random() < 0.3:
            body[random_key(rng)] = random_value(rng)
        return frame(FrameType.CONNECT, body)
    if roll < 0.45:
        bad_id = rng.choice((-1, 2**64 - 1, -(2**63), "1", None))
        body = {"id": rng.randrange(100) if rng.random() < 0.97 else bad_id, "route": "system/health", "args": {}}
        if rng.random() < 0.5:
            body["route"] = random_value(rng)
            body["args"] = random_value(rng)
        return frame(FrameType.RPC, body)
    if roll < 0.70:
        return frame(FrameType.PING, {"t": random_value(rng)} if rng.random() < 0.8 else {})
    if roll < 0.85:
        return frame(rng.choice((FrameType.PUSH_ACK, FrameType.PONG)), {"pts": random_value(rng)})
    # Below: each of these ends the connection (a documented DISCONNECT), so they are rarer.
    if roll < 0.90:
        return frame(rng.choice(list(FrameType)), random_value(rng) if rng.random() < 0.3 else {"k": random_value(rng)})
    if roll < 0.93:
        return frame(rng.randrange(256), {"x": 1})
    if roll < 0.95:
        return rng.randbytes(rng.randrange(1, 40))
    if roll < 0.98:
        length = rng.choice((0, 1, 2, 2**32 - 1, LIMITS.max_frame_bytes + 1, rng.randrange(2, 100)))
        return struct.pack(">IB", length, rng.randrange(1, 10)) + rng.randbytes(rng.randrange(20))
    # A map that is not a map, truncated MessagePack, a huge array header.
    return struct.pack(">IB", 6, FrameType.RPC) + rng.choice((b"\x93\x01\x02\x03\x04", b"\xdd\xff\xff\xff\xff", b"\x81\xa1"))


class _Counter(SessionObserver):
    def __init__(self) -> None:
        self.frames_in = 0

    def frame_in(self, frame_type: FrameType) -> None:
        self.frames_in += 1


def _check_sent(decoder: Decoder, action: Send) -> None:
    frames = decoder.feed(action.data)
    assert len(frames) == 1 and frames[0].type == action.frame_type


def run_connection(rng: random.Random, frames: int) -> FuzzReport:
    """One connection fed up to `frames` generated frames; raises AssertionError on a finding."""
    counter = _Counter()
    session = Session(LIMITS, now=0.0, observer=counter)
    out = Decoder(1 << 30)
    report = FuzzReport(connections=1)
    now = 0.0
    closed_with: str | None = None
    connect = {"token": "tok", "deviceId": "dev", "platform": "fuzz", "protocolVersion": 1}
    for n in range(frames):
        data = frame(FrameType.CONNECT, connect) if n == 0 and rng.random() < 0.9 else random_frame(rng)
        pos = 0
        while pos < len(data) and session.state is not State.CLOSED:
            cut = pos + rng.choice((1, 3, 7, 64, len(data)))
            chunk, pos = data[pos:cut], cut
            now += rng.random() * 0.05
            pending = session.receive_data(chunk, now)
            while pending:
                action = pending.pop(0)
                if isinstance(action, Send):
                    _check_sent(out, action)
                    if action.frame_type == FrameType.DISCONNECT:
                        closed_with = "disconnect-sent"
                elif isinstance(action, Close):
                    assert closed_with == "disconnect-sent" or action.code == "CLIENT_CLOSED", action
                    assert action.code in DISCONNECT_CODES, action
                    closed_with = action.code
                elif isinstance(action, Authenticate):
                    if rng.random() < 0.95:
                        pending += session.authenticated(session_id="s", user_id="1", server_time_ms=1, update_seq=0)
                    else:
                        pending += session.authentication_failed(rng.choice(("UNAUTHENTICATED", "TOKEN_EXPIRED")), "no")
                elif isinstance(action, Call):
                    if rng.random() < 0.6:
                        pending += session.rpc_finished(action.id, data={"ok": random_value(rng), "bad": "\ud800"})
                    else:
                        code = rng.choice(("BAD_USER_INPUT", "NOT_FOUND", "UNKNOWN_ROUTE", "SESSION_REVOKED"))
                        pending += session.rpc_finished(action.id, error=RpcError(code, "no"))
        if session.state is State.CLOSED:
            break
        for action in session.handle_timer(now):
            if isinstance(action, Send):
                _check_sent(out, action)
            elif isinstance(action, Close):
                closed_with = action.code
    report.frames = counter.frames_in  # frames the session read (garbage ends a connection early)
    if session.state is State.CLOSED:
        assert closed_with in DISCONNECT_CODES, closed_with
        assert session.receive_data(frame(FrameType.PING, {"t": 1}), now + 1) == []
        report.closed[closed_with] = 1
        return report
    if session._decoder.buffered:
        # Waiting for the rest of a frame that never comes: the deadlines end it.
        later = session.handle_timer(now + LIMITS.idle_timeout_seconds + 1)
        closes = [a for a in later if isinstance(a, Close)]
        assert closes and closes[0].code in ("IDLE_TIMEOUT", "AUTH_TIMEOUT"), later
        report.closed[closes[0].code] = 1
        return report
    # Still open: it must still work.
    answer = session.receive_data(frame(FrameType.PING, {"t": 42}), now + 100)
    sent = [a for a in answer if isinstance(a, Send)]
    assert sent and sent[0].frame_type == FrameType.PONG, answer
    report.alive = 1
    return report


def run(total_frames: int, *, seed: int = 11, frames_per_connection: int = 100) -> FuzzReport:
    """Connections until the sessions have read `total_frames` frames."""
    rng = random.Random(seed)
    report = FuzzReport()
    while report.frames < total_frames:
        report.add(run_connection(rng, rng.randrange(1, frames_per_connection * 2)))
    return report
