"""The hex test vectors of docs/PROTOCOL.md decode as documented (and re-encode to the
same bytes), so an SDK in another language can be checked against the same files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway_native.codec import CodecError, CodecErrorKind, Decoder, Frame, FrameType, encode

ROOT = Path(__file__).resolve().parents[2]
VECTORS = sorted((ROOT / "tests" / "vectors").glob("*.hex"))
PROTOCOL = (ROOT / "docs" / "PROTOCOL.md").read_text()


def parse(path: Path) -> tuple[dict[str, str], bytes]:
    meta: dict[str, str] = {}
    hex_text = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].strip().partition(": ")
            meta[key] = value
        else:
            hex_text.append(line)
    return meta, bytes.fromhex("".join(hex_text))


def test_there_are_vectors_for_every_frame_type_and_the_main_errors() -> None:
    seen_types: set[str] = set()
    errors: set[str] = set()
    for path in VECTORS:
        meta, _ = parse(path)
        if "frames" in meta:
            seen_types |= {f["type"] for f in json.loads(meta["frames"])}
        else:
            errors.add(meta["error"])
    assert seen_types == {t.name for t in FrameType}
    assert {"empty_frame", "frame_too_large", "unknown_type", "not_a_map", "limit_exceeded", "bad_msgpack"} <= errors


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_decodes_as_documented(path: Path) -> None:
    meta, data = parse(path)
    if "frames" in meta:
        expected = [Frame(FrameType[f["type"]], f["body"]) for f in json.loads(meta["frames"])]
        assert Decoder().feed(data) == expected
        assert b"".join(encode(f.type, f.body) for f in expected) == data
    else:
        with pytest.raises(CodecError) as caught:
            Decoder().feed(data)
        assert caught.value.kind is CodecErrorKind(meta["error"])


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_is_quoted_verbatim_in_the_protocol_document(path: Path) -> None:
    assert path.read_text().strip() in PROTOCOL, f"docs/PROTOCOL.md must quote {path.name}"
