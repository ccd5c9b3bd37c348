"""A fixture step that hangs names itself and shows every task's stack, instead of the
suite's bare per-test timeout (which prints only thread stacks: an event loop waiting on
something that never comes shows as a loop in `select`)."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

STEP_TIMEOUT_S = 90.0


async def bounded(step: Awaitable[T], what: str, *, seconds: float = STEP_TIMEOUT_S) -> T:
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError:
        sys.stderr.write(f"\n--- {what} did not finish in {seconds:.0f}s; the event loop's tasks:\n{task_stacks()}\n")
        raise RuntimeError(f"{what} hung for {seconds:.0f}s (task stacks on stderr)") from None


def task_stacks() -> str:
    out = io.StringIO()
    for task in asyncio.all_tasks():
        out.write(f"{task!r}\n")
        task.print_stack(file=out)
    return out.getvalue()
