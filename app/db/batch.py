"""Group commit: concurrent calls of one statement sent to the database as one.

A call made while `max_in_flight` earlier batches are still in the database waits in a
queue; when a batch comes back, everything queued meanwhile (up to `max_size`) goes out
as the next one: one statement, one round trip, one commit for all of them, and each
caller is answered with its own row only after that commit. When nothing is in flight
a call goes out at once, alone: batching adds no wait to a quiet server, and under load
it turns N round trips, N commits and N driver calls into one.

A batch that fails as a whole (a lost connection, a deadlock, a row whose statement
raised) is run again one item at a time, so one item's failure is only its own caller's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# Runs one batch: a result for each item, in order.
RunBatch = Callable[[Sequence[Item]], Awaitable[Sequence[Result]]]
# Told the name and size of each batch sent (metrics).
BatchObserver = Callable[[str, int], None]


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        run: RunBatch[Item, Result],
        *,
        max_size: int = 64,
        max_in_flight: int = 2,
        name: str = "batch",
        observe: BatchObserver | None = None,
    ) -> None:
        if max_size < 1 or max_in_flight < 1:
            raise ValueError("max_size and max_in_flight must be at least 1")
        self._run = run
        self.max_size = max_size
        self.max_in_flight = max_in_flight
        self.name = name
        self._observe = observe
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieve)  # a caller that went away leaves no "never retrieved"
        self._queue.append((item, done))
        if self._in_flight < self.max_in_flight:
            self._in_flight += 1
            task = asyncio.create_task(self._drain(), name=f"{self.name}-flush")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # The statement runs to its end even if this caller goes away (like a statement
        # already sent); shielding keeps a cancelled caller from cancelling the batch.
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        """Send batches until the queue is empty; one of at most `max_in_flight` drainers."""
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_size], self._queue[self.max_size :]
                await self._send(batch)
        finally:
            self._in_flight -= 1

    async def _send(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        if self._observe is not None:
            self._observe(self.name, len(batch))
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:
            _settle_error(batch, ConnectionError("the database connection is shutting down"))
            raise
        except Exception as error:
            if len(batch) == 1:
                _settle_error(batch, error)
                return
            log.info("a batch of %d %s failed (%s): running them one by one", len(batch), self.name, error)
            for one in batch:
                await self._send([one])
            return
        for (_, done), result in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(result)

    async def close(self, grace: float = 10.0) -> None:
        """Wait for the batches in flight, at most `grace` seconds; then cancel them (their
        callers get an error, and a statement cut short is rolled back by the database)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d batch(es) of %s still running after %.0fs: cancelled", len(pending), self.name, grace)
            await asyncio.gather(*pending, return_exceptions=True)


def _retrieve(done: asyncio.Future[Result]) -> None:
    if not done.cancelled():
        done.exception()


def _settle_error(batch: Sequence[tuple[object, asyncio.Future[Result]]], error: BaseException) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(error)
