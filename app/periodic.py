"""A step run every few seconds in the background (heartbeats, sweeps, reconciles), that a
failure never stops: it is logged (or handed to `on_error`) and the next step runs on time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        name: str,
        interval: Callable[[], float],
        step: Callable[[], Awaitable[object]],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.name = name
        self._interval = interval  # read before each sleep, so a setting may change it
        self._step = step
        self._on_error = on_error
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """Started, and still running (a failing step does not end it)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            try:
                await self._step()
            except Exception as error:
                if self._on_error is not None:
                    self._on_error(error)
                else:
                    log.exception("%s failed", self.name)
