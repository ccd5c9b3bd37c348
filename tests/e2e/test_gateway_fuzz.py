"""Hostile input against a real server process: garbage, truncated frames, length fields
of 0 and 4 GiB, MessagePack bombs, unknown frame types and routes, RPCs before CONNECT,
PING floods, random bytes. Each bad connection gets an error or a DISCONNECT with a
reason; the server stays up and a witness connection keeps working throughout."""

from __future__ import annotations

import asyncio
import random
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets

from gateway_native.client import Client, Endpoint, NativeConnection
from gateway_native.codec import CodecError, Decoder, Frame, FrameType, encode
from tests.support.server import ServerProcess

PASSWORD = "fuzz-password-1"
# Short deadlines so connections that stall (a truncated frame) end quickly.
FUZZ_ENV = {"PRIVCHAT_GATEWAY__AUTH_DEADLINE_SECONDS": "1", "PRIVCHAT_GATEWAY__MAX_FRAME_BYTES": "65536"}
DISCONNECT_CODES = {"PROTOCOL_ERROR", "PAYLOAD_TOO_LARGE", "AUTH_TIMEOUT", "RATE_LIMITED", "UNAUTHENTICATED"}


@pytest.fixture(scope="module")
def fuzz_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(extra_env=FUZZ_ENV)


@pytest.fixture
async def witness(fuzz_server: ServerProcess) -> AsyncIterator[Client]:
    """A well-behaved device that must not notice any of the abuse."""
    suffix = uuid.uuid4().hex[:6]
    client = Client(Endpoint("tcp", "127.0.0.1", fuzz_server.tcp_port), device_id="witness", ping_interval=None)
    await client.register(f"witness{suffix}", PASSWORD)
    await client.login(f"witness{suffix}", PASSWORD)
    await client.start()
    yield client
    await client.close()


async def still_fine(server: ServerProcess, witness: Client) -> None:
    assert server.proc is not None and server.proc.poll() is None, server.log()
    connection = witness.connection
    assert connection is not None and not connection.is_closed
    await connection.ping()
    assert (await witness.call("account/profile/get"))["profile"]["id"] == witness.user_id
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.service_url}/healthz")).status_code == 200


async def raw_exchange(server: ServerProcess, data: bytes, *, then_close: bool = False) -> list[Frame]:
    """Send bytes on a fresh TCP connection; the frames the server sent until it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
    decoder = Decoder(1 << 20)
    frames: list[Frame] = []
    try:
        writer.write(data)
        await writer.drain()
        if then_close:
            writer.close()
            return frames
        async with asyncio.timeout(15):
            while chunk := await reader.read(65536):
                frames += decoder.feed(chunk)
    except (ConnectionError, CodecError):
        pass
    finally:
        writer.close()
    return frames


def disconnect_of(frames: list[Frame]) -> dict[str, Any]:
    assert frames and frames[-1].type is FrameType.DISCONNECT, frames
    body = frames[-1].body
    assert body["code"] in DISCONNECT_CODES and isinstance(body["reason"], str) and body["reason"], body
    return body


def raw_frame(type_byte: int, payload: bytes) -> bytes:
    return struct.pack(">IB", len(payload) + 1, type_byte) + payload


CASES: list[tuple[str, bytes, str]] = [
    ("length 0", b"\x00\x00\x00\x00", "PROTOCOL_ERROR"),
    ("length 4 GiB", b"\xff\xff\xff\xff", "PAYLOAD_TOO_LARGE"),
    ("length above the limit", struct.pack(">I", 65537) + b"\x03", "PAYLOAD_TOO_LARGE"),
    ("unknown frame type", raw_frame(99, b"\x80"), "PROTOCOL_ERROR"),
    ("a server frame from the client", encode(FrameType.PUSH, {"event": {}}), "PROTOCOL_ERROR"),
    ("body not a map", raw_frame(3, b"\x93\x01\x02\x03"), "PROTOCOL_ERROR"),
    ("bad MessagePack", raw_frame(3, b"\xc1\xc1\xc1"), "PROTOCOL_ERROR"),
    ("array bomb", raw_frame(3, b"\x81\xa4args\xdd\xff\xff\xff\xff"), "PROTOCOL_ERROR"),
    ("map bomb", raw_frame(3, b"\x81\xa4args\xdf\xff\xff\xff\xff"), "PROTOCOL_ERROR"),
    ("string bomb", raw_frame(3, b"\x81\xa4args\xdb\xff\xff\xff\xff"), "PROTOCOL_ERROR"),
    ("deep nesting", raw_frame(3, b"\x81\xa4args" + b"\x91" * 20000 + b"\xc0"), "PROTOCOL_ERROR"),
    (
        "CONNECT of another protocol version",
        encode(FrameType.CONNECT, {"token": "t", "deviceId": "d", "protocolVersion": 9}),
        "PROTOCOL_ERROR",
    ),
    (
        "CONNECT with a forged token",
        encode(FrameType.CONNECT, {"token": "x.y.z", "deviceId": "d", "protocolVersion": 1}),
        "UNAUTHENTICATED",
    ),
    ("RPC without an id", encode(FrameType.RPC, {"route": "system/health"}), "PROTOCOL_ERROR"),
    ("truncated frame, then silence", encode(FrameType.RPC, {"id": 1, "route": "system/health"})[:7], "AUTH_TIMEOUT"),
    ("a PING flood", b"".join(encode(FrameType.PING, {"t": i}) for i in range(500)), "RATE_LIMITED"),
]


@pytest.mark.parametrize(("name", "data", "code"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_gets_a_disconnect_with_a_reason(
    fuzz_server: ServerProcess, witness: Client, name: str, data: bytes, code: str
) -> None:
    body = disconnect_of(await raw_exchange(fuzz_server, data))
    assert body["code"] == code, (name, body)
    await still_fine(fuzz_server, witness)


async def test_unknown_routes_bad_args_and_rpcs_before_connect_are_answered_not_disconnected(
    fuzz_server: ServerProcess, witness: Client
) -> None:
    conn = await NativeConnection.open(Endpoint("tcp", "127.0.0.1", fuzz_server.tcp_port), ping_interval=None)
    try:
        for route, args, code in [
            ("no/such/route", None, "UNKNOWN_ROUTE"),
            (
                "message/send",
                {"channelId": "1", "clientMsgId": "c", "content": {"text": {"text": "x"}}},
                "UNAUTHENTICATED",
            ),
            ("device/list", {}, "UNAUTHENTICATED"),
            ("account/user/register", {"username": 5}, "BAD_USER_INPUT"),
            ("account/auth/login", {"username": "x" * 60000, "password": "y"}, "BAD_USER_INPUT"),
            ("system/health", {"surprise": [1, {"a": None}]}, "BAD_USER_INPUT"),
        ]:
            with pytest.raises(Exception) as refused:
                await conn.call(route, args)
            assert getattr(refused.value, "code", None) == code, (route, refused.value)
        assert (await conn.call("system/health"))["status"] == "ok"
        assert not conn.is_closed
    finally:
        await conn.close()
    await still_fine(fuzz_server, witness)


async def test_truncated_frames_and_abrupt_closes_leave_nothing_behind(
    fuzz_server: ServerProcess, witness: Client
) -> None:
    frame = encode(FrameType.CONNECT, {"token": "t" * 500, "deviceId": "d", "protocolVersion": 1})
    for cut in (1, 3, 4, 5, len(frame) // 2, len(frame) - 1):
        await raw_exchange(fuzz_server, frame[:cut], then_close=True)
    await still_fine(fuzz_server, witness)


async def test_random_bytes_on_many_connections_at_once(fuzz_server: ServerProcess, witness: Client) -> None:
    rng = random.Random(20260107)
    payloads = [rng.randbytes(rng.randint(1, 300)) for _ in range(150)]
    # Some start like a frame, so the random part hits the MessagePack decoder too.
    payloads += [struct.pack(">IB", len(p) + 1, rng.randint(1, 9)) + p for p in payloads[:100]]
    results = await asyncio.gather(*(raw_exchange(fuzz_server, p) for p in payloads))
    for payload, frames in zip(payloads, results, strict=True):
        # Garbage may contain a valid PING before it goes wrong: the last frame still says why.
        disconnect_of(frames), payload.hex()
    await still_fine(fuzz_server, witness)
    log = fuzz_server.log()
    assert "gateway_native/" not in log and "Task exception was never retrieved" not in log, log


async def test_bad_websocket_and_quic_input_is_refused_the_same_way(
    fuzz_server: ServerProcess, witness: Client
) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{fuzz_server.ws_port}/gate") as ws:
        await ws.send(b"\x00\x00\x00\x00")
        frames = Decoder().feed(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[arg-type]
        assert disconnect_of(frames)["code"] == "PROTOCOL_ERROR"
    async with websockets.connect(f"ws://127.0.0.1:{fuzz_server.ws_port}/gate") as ws:
        await ws.send("text is not a frame")
        frames = Decoder().feed(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[arg-type]
        assert disconnect_of(frames)["code"] == "PROTOCOL_ERROR"
    quic = Endpoint("quic", "127.0.0.1", fuzz_server.tcp_port, cafile=str(fuzz_server.data_dir / "quic-dev-cert.pem"))
    conn = await NativeConnection.open(quic, ping_interval=None)
    await conn.send_raw(b"\xff\xff\xff\xff")
    async with asyncio.timeout(10):
        assert (await conn.wait_closed()).code == "PAYLOAD_TOO_LARGE"
    await conn.close()
    await still_fine(fuzz_server, witness)
