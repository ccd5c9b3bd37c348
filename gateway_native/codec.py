"""The native frame format (docs/PROTOCOL.md §2), without I/O.

    frame = u32 big-endian length of the rest | u8 frame type | body (one MessagePack map)

`Decoder.feed(chunk)` takes whatever a socket read returned (part of a frame, several
frames, both) and returns the frames it completed. Everything a peer can send maps to a
`CodecError` with a `kind` (used as a metrics label); nothing else escapes.

Limits are enforced before work is done: a length above the maximum is refused as soon
as its four bytes arrive (the body is never buffered), and MessagePack lengths are
capped so a five-byte "array of 4 billion items" cannot make the unpacker allocate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

import msgpack

from app.text import repair

HEADER = struct.Struct(">IB")  # length of the rest, frame type
LENGTH_BYTES = 4
DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
# Deepest nesting of maps/arrays in a body. Real bodies nest 5-6 levels (RPC args with
# message content); the bound keeps a hostile body from costing more than its bytes.
MAX_DEPTH = 32
# Most items in one map or array: far above any legitimate body, low enough that a
# single length header cannot reserve a large allocation.
MAX_CONTAINER_ITEMS = 65_536


class FrameType(IntEnum):
    CONNECT = 1
    CONNECT_ACK = 2
    RPC = 3
    RPC_RESULT = 4
    PUSH = 5
    PUSH_ACK = 6
    PING = 7
    PONG = 8
    DISCONNECT = 9


class CodecErrorKind(StrEnum):
    EMPTY_FRAME = "empty_frame"  # length field below 2: no room for a type and a map
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    BAD_MSGPACK = "bad_msgpack"  # not decodable, trailing bytes, bad UTF-8, non-string keys
    LIMIT_EXCEEDED = "limit_exceeded"  # a string/array/map longer than allowed
    TOO_DEEP = "too_deep"
    NOT_A_MAP = "not_a_map"
    BAD_VALUE = "bad_value"  # MessagePack extension types (timestamps...) are not part of the protocol


class CodecError(Exception):
    """The peer sent bytes that are not a valid frame. The stream cannot be trusted after it."""

    def __init__(self, kind: CodecErrorKind, message: str, frames: list[Frame] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        # Frames completed by the same `feed` call before the bad one, in order.
        self.frames: list[Frame] = frames or []


@dataclass(frozen=True, slots=True)
class Frame:
    type: FrameType
    body: dict[str, Any]


def encode(frame_type: FrameType, body: dict[str, Any]) -> bytes:
    payload = msgpack.packb(body, use_bin_type=True)
    return HEADER.pack(len(payload) + 1, frame_type) + payload


def encode_repaired(frame_type: FrameType, body: dict[str, Any]) -> tuple[bytes, list[str]]:
    """`encode`, and where the body holds text UTF-8 cannot carry (a lone surrogate stored
    before input was checked), the frame with U+FFFD in its place and the paths repaired:
    one bad item never stops a stream or an answer."""
    try:
        return encode(frame_type, body), []
    except UnicodeEncodeError:
        repaired, paths = repair(body)
        return encode(frame_type, repaired), paths


def encode_frame(frame: Frame) -> bytes:
    return encode(frame.type, frame.body)


def decode_body(payload: bytes) -> dict[str, Any]:
    """One frame body: a MessagePack map with string keys, bounded in size and depth."""
    size = len(payload)
    try:
        body = msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
            use_list=True,
            # No container can hold more items than its frame has bytes.
            max_str_len=size,
            max_bin_len=size,
            max_ext_len=size,
            max_array_len=min(size, MAX_CONTAINER_ITEMS),
            max_map_len=min(size // 2, MAX_CONTAINER_ITEMS),
        )
    except ValueError as exc:  # msgpack's own errors and UnicodeDecodeError are ValueErrors
        if "exceeds max_" in str(exc):
            raise CodecError(CodecErrorKind.LIMIT_EXCEEDED, f"body refused: {exc}") from None
        if isinstance(exc, msgpack.StackError):
            raise CodecError(CodecErrorKind.TOO_DEEP, "body nests too deeply") from None
        raise CodecError(CodecErrorKind.BAD_MSGPACK, f"body is not one MessagePack value: {exc}") from None
    except (TypeError, RecursionError, OverflowError) as exc:
        raise CodecError(CodecErrorKind.BAD_MSGPACK, f"body is not one MessagePack value: {exc}") from None
    if not isinstance(body, dict):
        raise CodecError(CodecErrorKind.NOT_A_MAP, f"body must be a map, not {_kind_of(body)}")
    _check_values(body)
    return body


_PLAIN = (str, int, float, bool, bytes, type(None))


def _check_values(body: dict[str, Any]) -> None:
    """Depth and value types, iteratively (the check itself must not recurse)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise CodecError(CodecErrorKind.TOO_DEEP, f"body nests deeper than {MAX_DEPTH} levels")
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif not isinstance(child, _PLAIN):
                raise CodecError(CodecErrorKind.BAD_VALUE, f"{type(child).__name__} values are not allowed")


def _kind_of(value: Any) -> str:
    names = {list: "an array", str: "a string", bytes: "binary", int: "an integer", float: "a float", bool: "a bool"}
    return "nil" if value is None else names.get(type(value), type(value).__name__)


class Decoder:
    """Incremental frame decoder for one direction of one connection."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._pos = 0  # start of the first unread frame in _buffer
        self._failed: CodecError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame (non-zero at EOF: truncated)."""
        return len(self._buffer) - self._pos

    def feed(self, data: bytes) -> list[Frame]:
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        frames: list[Frame] = []
        try:
            while True:
                frame = self._next()
                if frame is None:
                    break
                frames.append(frame)
        except CodecError as exc:
            exc.frames = frames
            self._failed = CodecError(exc.kind, exc.message)
            self._buffer.clear()
            self._pos = 0
            raise
        # Compact once per read, not once per frame: a read full of small frames stays linear.
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        return frames

    def _next(self) -> Frame | None:
        buffer, pos = self._buffer, self._pos
        if len(buffer) - pos < LENGTH_BYTES:
            return None
        length = int.from_bytes(buffer[pos : pos + LENGTH_BYTES], "big")
        # Checked as soon as the length is known, before any of the body is buffered.
        if length < 2:
            raise CodecError(CodecErrorKind.EMPTY_FRAME, f"frame length {length} leaves no room for a type and body")
        if length > self.max_frame_bytes:
            raise CodecError(
                CodecErrorKind.FRAME_TOO_LARGE, f"frame of {length} bytes exceeds the limit of {self.max_frame_bytes}"
            )
        end = pos + LENGTH_BYTES + length
        if len(buffer) < end:
            return None
        type_byte = buffer[pos + LENGTH_BYTES]
        payload = bytes(buffer[pos + LENGTH_BYTES + 1 : end])
        self._pos = end
        try:
            frame_type = FrameType(type_byte)
        except ValueError:
            raise CodecError(CodecErrorKind.UNKNOWN_TYPE, f"unknown frame type {type_byte}") from None
        return Frame(frame_type, decode_body(payload))
