"""The frame codec: round trips, partial and coalesced reads, limits, and hostile input.
Pure: no sockets, no clock."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_native.codec import (
    MAX_DEPTH,
    CodecError,
    CodecErrorKind,
    Decoder,
    Frame,
    FrameType,
    encode,
    encode_frame,
)


def raw_frame(type_byte: int, payload: bytes) -> bytes:
    return struct.pack(">IB", len(payload) + 1, type_byte) + payload


def decode_error(data: bytes, max_frame_bytes: int = 1024 * 1024) -> CodecError:
    with pytest.raises(CodecError) as caught:
        Decoder(max_frame_bytes).feed(data)
    return caught.value


def test_a_frame_is_length_type_and_a_messagepack_map() -> None:
    data = encode(FrameType.PING, {"t": 1})
    assert data == bytes.fromhex("00000005") + bytes([7]) + bytes.fromhex("81a17401")
    assert Decoder().feed(data) == [Frame(FrameType.PING, {"t": 1})]


@pytest.mark.parametrize("frame_type", list(FrameType))
def test_every_frame_type_round_trips(frame_type: FrameType) -> None:
    body = {"id": 7, "route": "message/send", "args": {"channelId": "3", "content": {"text": {"text": "hé"}}}}
    assert Decoder().feed(encode(frame_type, body)) == [Frame(frame_type, body)]


def test_a_frame_fed_one_byte_at_a_time_comes_out_once_complete() -> None:
    data = encode(FrameType.RPC, {"id": 1, "route": "system/health"})
    decoder = Decoder()
    out: list[Frame] = []
    for i in range(len(data)):
        out += decoder.feed(data[i : i + 1])
        assert out == ([] if i < len(data) - 1 else [Frame(FrameType.RPC, {"id": 1, "route": "system/health"})])
    assert decoder.buffered == 0


def test_coalesced_frames_and_a_partial_tail_in_one_read() -> None:
    frames = [Frame(FrameType.PING, {"t": i}) for i in range(50)]
    data = b"".join(encode_frame(f) for f in frames)
    decoder = Decoder()
    assert decoder.feed(data + data[:3]) == frames
    assert decoder.buffered == 3
    assert decoder.feed(data[3:]) == frames


@pytest.mark.parametrize("length", [0, 1])
def test_a_length_with_no_room_for_type_and_body_is_refused(length: int) -> None:
    assert decode_error(struct.pack(">I", length) + b"\x07\x80").kind is CodecErrorKind.EMPTY_FRAME


def test_an_oversized_length_is_refused_from_its_four_bytes_alone() -> None:
    decoder = Decoder(max_frame_bytes=1024)
    with pytest.raises(CodecError) as caught:
        decoder.feed(struct.pack(">I", 0xFFFFFFFF))  # 4 GiB announced, no body sent
    assert caught.value.kind is CodecErrorKind.FRAME_TOO_LARGE
    assert decoder.buffered == 0
    # exactly the limit is fine
    body = {"t": "x" * (1024 - 1 - 6)}
    assert len(encode(FrameType.PING, body)) == 4 + 1024
    assert Decoder(1024).feed(encode(FrameType.PING, body)) == [Frame(FrameType.PING, body)]
    assert decode_error(encode(FrameType.PING, {"t": "x" * 1024}), 1024).kind is CodecErrorKind.FRAME_TOO_LARGE


def test_unknown_frame_types_are_refused() -> None:
    for type_byte in (0, 10, 255):
        assert decode_error(raw_frame(type_byte, b"\x80")).kind is CodecErrorKind.UNKNOWN_TYPE


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"\x93\x01\x02\x03", CodecErrorKind.NOT_A_MAP),  # an array
        (b"\xa2hi", CodecErrorKind.NOT_A_MAP),  # a string
        (b"\xc0", CodecErrorKind.NOT_A_MAP),  # nil
        (b"\xc1", CodecErrorKind.BAD_MSGPACK),  # the never-used byte
        (b"\x81\xa1t", CodecErrorKind.BAD_MSGPACK),  # truncated inside the frame
        (b"\x80\x80", CodecErrorKind.BAD_MSGPACK),  # two values
        (b"\x81\x01\x02", CodecErrorKind.BAD_MSGPACK),  # integer key
        (b"\x81\xa1t\xa2\xff\xfe", CodecErrorKind.BAD_MSGPACK),  # invalid UTF-8
        (b"\x81\xa1t\xd6\xff\x00\x00\x00\x01", CodecErrorKind.BAD_VALUE),  # timestamp extension
        (b"\x81\xa1t\xd4\x05\x01", CodecErrorKind.BAD_VALUE),  # application extension
    ],
)
def test_bodies_that_are_not_one_map_of_plain_values_are_refused(payload: bytes, kind: CodecErrorKind) -> None:
    assert decode_error(raw_frame(3, payload)).kind is kind


@pytest.mark.parametrize(
    "payload",
    [
        b"\xdd\xff\xff\xff\xff",  # array32 of 4 billion items in five bytes
        b"\xdf\xff\xff\xff\xff",  # map32 of 4 billion pairs
        b"\x81\xa1t\xdc\xff\xff" + b"\xc0" * 100,  # 65535-item array in a 110-byte frame
    ],
)
def test_messagepack_bombs_are_refused_before_allocating(payload: bytes) -> None:
    assert decode_error(raw_frame(3, payload)).kind is CodecErrorKind.LIMIT_EXCEEDED


@pytest.mark.parametrize(
    "payload",
    [
        b"\x81\xa1t\xdb\xff\xff\xff\xff",  # str32 of 4 GiB
        b"\x81\xa1t\xc6\xff\xff\xff\xff",  # bin32 of 4 GiB
    ],
)
def test_strings_longer_than_their_frame_are_refused(payload: bytes) -> None:
    # Strings are read from the frame's bytes, never allocated ahead: they simply do not fit.
    assert decode_error(raw_frame(3, payload)).kind in (CodecErrorKind.LIMIT_EXCEEDED, CodecErrorKind.BAD_MSGPACK)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_nesting_is_refused(depth: int) -> None:
    payload = b"\x81\xa1t" + b"\x91" * (depth - 1) + b"\xc0"
    assert decode_error(raw_frame(3, payload)).kind is CodecErrorKind.TOO_DEEP


def test_nesting_up_to_the_limit_is_fine() -> None:
    payload = b"\x81\xa1t" + b"\x91" * (MAX_DEPTH - 1) + b"\xc0"
    [frame] = Decoder().feed(raw_frame(3, payload))
    assert frame.type is FrameType.RPC


def test_frames_before_an_error_are_handed_over_and_the_decoder_stays_failed() -> None:
    good = encode(FrameType.PING, {"t": 1})
    decoder = Decoder()
    with pytest.raises(CodecError) as caught:
        decoder.feed(good + good + raw_frame(42, b"\x80") + good)
    assert caught.value.frames == [Frame(FrameType.PING, {"t": 1})] * 2
    with pytest.raises(CodecError):
        decoder.feed(good)


# -- properties ---------------------------------------------------------------------------

plain = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text() | st.binary()
)
values = st.recursive(
    plain,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
bodies = st.dictionaries(st.text(max_size=20), values, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    frames=st.lists(st.tuples(st.sampled_from(list(FrameType)), bodies), min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
)
def test_any_frames_round_trip_however_the_stream_is_cut(
    frames: list[tuple[FrameType, dict[str, Any]]], cuts: list[int]
) -> None:
    data = b"".join(encode(t, b) for t, b in frames)
    points = sorted({c % (len(data) + 1) for c in cuts})
    decoder = Decoder()
    out: list[Frame] = []
    start = 0
    for point in [*points, len(data)]:
        out += decoder.feed(data[start:point])
        start = point
    assert out == [Frame(t, b) for t, b in frames]
    assert decoder.buffered == 0


@settings(max_examples=500, deadline=None)
@given(chunks=st.lists(st.binary(max_size=64), max_size=8), limit=st.integers(min_value=2, max_value=4096))
def test_garbage_never_raises_anything_but_a_codec_error(chunks: list[bytes], limit: int) -> None:
    decoder = Decoder(limit)
    for chunk in chunks:
        try:
            frames = decoder.feed(chunk)
        except CodecError as exc:
            assert isinstance(exc.kind, CodecErrorKind)
            return
        for frame in frames:
            assert isinstance(frame.body, dict)


@settings(max_examples=300, deadline=None)
@given(type_byte=st.integers(0, 255), payload=st.binary(max_size=200))
def test_any_well_delimited_frame_decodes_or_fails_typed(type_byte: int, payload: bytes) -> None:
    try:
        frames = Decoder().feed(raw_frame(type_byte, payload))
    except CodecError:
        return
    assert len(frames) == 1 and isinstance(frames[0].body, dict)
    assert msgpack.packb(frames[0].body) is not None
