"""Group commit (app/db/batch.py): calls made while batches are in flight go out together;
a quiet call goes out alone and at once; one item's failure is only its own caller's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.db.batch import Batcher


class Database:
    """A stand-in for the statement: records each batch; `gate` holds batches in flight."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.poison: set[int] = set()

    async def run(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.poison & set(items):
            raise ValueError(f"poisoned: {sorted(self.poison & set(items))}")
        return [i * 10 for i in items]


async def test_a_quiet_call_goes_out_alone_and_at_once() -> None:
    db = Database()
    batcher = Batcher(db.run, max_in_flight=1)
    assert await batcher(1) == 10
    assert await batcher(2) == 20
    assert db.batches == [[1], [2]]


async def test_calls_made_while_a_batch_is_in_flight_go_out_as_one() -> None:
    db = Database()
    db.gate.clear()
    batcher = Batcher(db.run, max_in_flight=1, max_size=4)
    first = asyncio.create_task(batcher(0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert db.batches == [[0]]  # in flight
    rest = [asyncio.create_task(batcher(i)) for i in range(1, 7)]
    await asyncio.sleep(0)
    db.gate.set()
    assert await asyncio.gather(first, *rest) == [i * 10 for i in range(7)]
    # each caller got its own result; the six queued went out in batches of at most four
    assert db.batches == [[0], [1, 2, 3, 4], [5, 6]]


async def test_batches_in_flight_are_bounded() -> None:
    db = Database()
    db.gate.clear()
    batcher = Batcher(db.run, max_in_flight=2, max_size=100)
    calls = [asyncio.create_task(batcher(i)) for i in range(10)]
    for _ in range(3):
        await asyncio.sleep(0)
    # the first drainer took all ten queued in the same loop turn; the second had nothing
    assert db.batches == [list(range(10))]
    more = [asyncio.create_task(batcher(i)) for i in range(10, 13)]
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(db.batches) <= 2
    db.gate.set()
    assert await asyncio.gather(*calls, *more) == [i * 10 for i in range(13)]


async def test_one_failing_item_fails_only_its_caller() -> None:
    db = Database()
    db.gate.clear()
    db.poison = {3}
    batcher = Batcher(db.run, max_in_flight=1)
    first = asyncio.create_task(batcher(0))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher(i)) for i in range(1, 6)]
    await asyncio.sleep(0)
    db.gate.set()
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    assert results[:3] == [0, 10, 20] and results[4:] == [40, 50]
    assert isinstance(results[3], ValueError)
    # the failed batch was run again one item at a time
    assert db.batches == [[0], [1, 2, 3, 4, 5], [1], [2], [3], [4], [5]]


async def test_a_caller_that_goes_away_does_not_cancel_the_batch() -> None:
    db = Database()
    db.gate.clear()
    batcher = Batcher(db.run, max_in_flight=1)
    first = asyncio.create_task(batcher(0))
    await asyncio.sleep(0)
    second = asyncio.create_task(batcher(1))
    third = asyncio.create_task(batcher(2))
    await asyncio.sleep(0)
    second.cancel()
    db.gate.set()
    assert await first == 0 and await third == 20
    with pytest.raises(asyncio.CancelledError):
        await second
    assert db.batches == [[0], [1, 2]]  # the statement for 1 ran all the same
    await batcher.close()


async def test_a_wrong_number_of_results_is_an_error() -> None:
    async def one_result(items: Sequence[int]) -> list[int]:
        return [7]

    async def two_results(items: Sequence[int]) -> list[int]:
        return [7, 7]

    with pytest.raises(RuntimeError, match="2 results for 1 items"):
        await Batcher(two_results)(1)
    # a batch of two answered once is run again item by item: each caller answered
    batcher = Batcher(one_result, max_in_flight=1, max_size=2)
    assert await asyncio.gather(batcher(1), batcher(2)) == [7, 7]


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        Batcher(Database().run, max_size=0)
    with pytest.raises(ValueError):
        Batcher(Database().run, max_in_flight=0)


async def test_close_waits_for_batches_in_flight_but_not_for_ever() -> None:
    db = Database()
    db.gate.clear()
    batcher = Batcher(db.run, max_in_flight=1)
    call = asyncio.create_task(batcher(1))
    await asyncio.sleep(0)
    await asyncio.wait_for(batcher.close(grace=0.05), 5)  # the batch never ends: cancelled
    with pytest.raises(ConnectionError):
        await call
