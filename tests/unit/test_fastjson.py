"""app/fastjson.py: the same values as `json`, both ways, including what orjson refuses."""

from __future__ import annotations

import json

import pytest

from app import fastjson

VALUES = [
    {"text": "héllo ✓ 😀", "n": 1, "f": 1.5, "none": None, "list": [1, "a", True], "nested": {"a": {"b": []}}},
    {1: "int keys become strings"},
    {"big": 2**70, "negative": -(2**65)},  # beyond 64 bits: orjson refuses, json does not
    {"surrogate": "a\ud800b"},  # a lone surrogate: orjson refuses, json escapes it
    (1, 2, 3),
]


@pytest.mark.parametrize("value", VALUES)
def test_round_trip_matches_json(value: object) -> None:
    encoded = fastjson.dumps(value)
    assert isinstance(encoded, bytes)
    assert fastjson.loads(encoded) == json.loads(json.dumps(value))
    assert fastjson.loads(fastjson.dumps_text(value)) == json.loads(json.dumps(value))


def test_loads_reads_what_json_reads_and_refuses_what_it_refuses() -> None:
    assert fastjson.loads('{"x": NaN}')["x"] != fastjson.loads('{"x": NaN}')["x"]  # NaN, as json reads it
    with pytest.raises(ValueError):
        fastjson.loads(b"{not json")
