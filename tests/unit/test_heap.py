"""The server's garbage-collector settings (app/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_is_alive_and_widens_the_young_generation(restored_gc: None) -> None:
    gc.unfreeze()
    startup = [{"built": n} for n in range(1000)]  # objects that live as long as the process
    heap.settle()
    assert gc.get_freeze_count() >= len(startup)
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    # frozen objects are out of every generation a collection scans
    assert not any(o is startup[0] for o in gc.get_objects())
