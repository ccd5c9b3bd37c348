"""Loaded at start-up by a server process whose PYTHONPATH holds this directory (`python -m
bench.soak --heap`). The first SIGUSR2 starts tracing allocations (tracemalloc; not from the
start: tracing the imports takes minutes), each further SIGUSR2 writes a snapshot to
$PRIVCHAT_HEAP_DIR/<pid>-<n>.snap for bench/soak.py to compare. Not part of the server: a
measuring tool, and tracing costs CPU and memory of its own."""

from __future__ import annotations

import itertools
import os
import signal
import tracemalloc

_DIR = os.environ.get("PRIVCHAT_HEAP_DIR")

if _DIR:
    _count = itertools.count()

    def _on_signal(signum: int, frame: object) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(int(os.environ.get("PRIVCHAT_HEAP_FRAMES", "8")))
            return
        path = os.path.join(_DIR, f"{os.getpid()}-{next(_count)}.snap")
        tracemalloc.take_snapshot().dump(path + ".part")
        os.replace(path + ".part", path)

    signal.signal(signal.SIGUSR2, _on_signal)
