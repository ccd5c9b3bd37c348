"""Long fuzz runs (not tests): generated native frames in process, and generated GraphQL
documents against a real server. Prints what ran and what came out.

    .venv/bin/python -m bench.fuzz frames --frames 1000000 [--seed 11]
    .venv/bin/python -m bench.fuzz schema --examples 1000      # runs tests/e2e/test_schema_fuzz.py

The bounded versions run in `make test` (tests/unit/test_frame_fuzz.py, 20,000 frames;
tests/e2e/test_schema_fuzz.py, 60 documents per mode).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from tests.support.frame_fuzz import run


def frames(total: int, seed: int) -> None:
    started = time.perf_counter()
    report = run(total, seed=seed)
    elapsed = time.perf_counter() - started
    print(f"frames: {report.frames:,} over {report.connections:,} connections in {elapsed:.1f} s "
          f"({report.frames / elapsed:,.0f} frames/s), seed {seed}")
    print(f"still working at the end: {report.alive:,}")
    for code, count in sorted(report.closed.items(), key=lambda kv: -kv[1]):
        print(f"ended with DISCONNECT {code}: {count:,}")
    print("crashes: 0 (any exception or malformed output would have stopped the run)")


def schema(examples: int) -> int:
    env = {**os.environ, "FUZZ_EXAMPLES": str(examples)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-o", "timeout=3600", "tests/e2e/test_schema_fuzz.py"]
    return subprocess.call(cmd, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    f = sub.add_parser("frames")
    f.add_argument("--frames", type=int, default=1_000_000)
    f.add_argument("--seed", type=int, default=11)
    s = sub.add_parser("schema")
    s.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    if args.what == "frames":
        frames(args.frames, args.seed)
    else:
        sys.exit(schema(args.examples))


if __name__ == "__main__":
    main()
