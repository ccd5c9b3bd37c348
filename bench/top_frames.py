"""Read a py-spy profile in raw (collapsed stacks) format and print where the time goes.

    .venv/bin/python -m bench.core --workers 1 --profile /tmp/prof --profile-format raw
    .venv/bin/python -m bench.top_frames /tmp/prof/native-1_worker\\(s\\).txt --most 30

Two lists: functions by inclusive share of the busy samples (on the stack at all), and by
self share (the innermost frame); idle samples (the event loop waiting in select/epoll)
are left out of both, so the shares are of the time the process was working.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE = re.compile(r"\b(select|poll|epoll_wait|_run_once \(.*base_events.py)|run_forever")
FRAME = re.compile(r"^(?P<name>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`name (path/to/module.py:123)` -> `name (module.py)`: lines merged per function."""
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    else:
        path = "/".join(path.split("/")[-2:])
    return f"{match['name']} ({path})"


def read(path: Path) -> tuple[Counter[str], Counter[str], int]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [short(f) for f in stack.split(";") if f]
        if not frames or IDLE.search(frames[-1]):
            continue
        count = int(count_text)
        busy += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return inclusive, own, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--most", type=int, default=25)
    parser.add_argument("--match", default="", help="only functions whose line contains this text")
    args = parser.parse_args()
    inclusive, own, busy = read(args.profile)
    print(f"{busy} busy samples")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"\n-- {title} --")
        rows = [(name, n) for name, n in counts.most_common() if args.match in name][: args.most]
        for name, n in rows:
            print(f"{100 * n / max(busy, 1):6.1f}%  {name}")


if __name__ == "__main__":
    main()
