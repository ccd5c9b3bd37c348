"""Soak: steady mixed load on both doors, sampled every few seconds; fails on growth.

    python -m bench.soak --minutes 10

One server process (`--workers` to run several) on PostgreSQL + Redis. Users in pairs,
each with a GraphQL device (HTTP + WS) and a native TCP device, do sends, history reads,
read receipts, reactions and typing; native devices disconnect and reconnect in turn
(presence churn). Every `--interval` seconds it prints the server's RSS and open file
descriptors (all workers together), PostgreSQL connections of its database, operations
per second, errors and operation latency. After warm-up it fits a line to RSS and fds:
exit 1 if memory grows faster than `--max-rss-slope` MiB/min, descriptors faster than
`--max-fd-slope` per minute, the median latency drifts above `--max-drift` times its
first value, or the checker finds anything acknowledged lost, duplicated or reordered.

The warm-up (180 s by default) covers what fills up and then stays: the per-process caches
of live events (schema/fanout.py: the GraphQL objects, payload texts and PUSH frames of the
last 2,048 hub items, about 3.5 KiB of traced memory per item, 7 MiB in all, full after
about 70 s at 40 operations a second), the database pools growing to their size (a new
connection brings its own prepared-statement cache) and the statement caches. `--heap`
shows what grew after it, by allocation site.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# The test support modules read this at import: the soak runs on PostgreSQL.
os.environ.setdefault("PRIVCHAT_TEST_BACKEND", "postgres")

from bench.chaos.checker import Checker, percentile
from bench.chaos.cluster import Cluster, children
from bench.chaos.devices import Deadline, Device, GraphQLDevice, NativeDevice, error_code, send_until_acknowledged
from bench.chaos.run import make_devices

GRAPHQL_OPS = {
    "history": ("query($c: ID!) { messageHistoryGet(input: {channelId: $c, limit: 20}) { __typename } }", "c"),
    "typing": ("mutation($c: ID!) { presenceTyping(input: {channelId: $c}) { expiresAt } }", "c"),
}


@dataclass
class Sample:
    at: float
    rss_mib: float
    fds: int
    pg_connections: int
    ops: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass
class Soak:
    cluster: Cluster
    checker: Checker = field(default_factory=Checker)
    latencies: list[float] = field(default_factory=list)
    ops: int = 0
    errors: int = 0
    last_message: dict[str, str] = field(default_factory=dict)  # channel -> a message id
    last_pts: dict[str, int] = field(default_factory=dict)
    error_codes: Counter[str] = field(default_factory=Counter)

    async def op(self, device: Device, channel: str, n: int, give_up: Deadline) -> None:
        roll = random.random()
        started = time.monotonic()
        try:
            if roll < 0.5:
                record = await send_until_acknowledged(
                    device, self.checker, channel, f"{device.name}-{n}", give_up=give_up
                )
                if record.acked_pts is not None:
                    self.last_pts[channel] = max(self.last_pts.get(channel, 0), record.acked_pts)
            elif roll < 0.65:
                await self._call(device, "history", channel)
            elif roll < 0.8 and self.last_pts.get(channel):
                await self._call(device, "read", channel)
            elif roll < 0.9 and self.last_message.get(channel):
                await self._call(device, "reaction", channel)
            else:
                await self._call(device, "typing", channel)
        except Exception as exc:  # counted by code; the soak goes on
            code = error_code(exc)
            self.error_codes[code] += 1
            if code != "RATE_LIMITED":  # typing is limited per user: an answer, not a failure
                self.errors += 1
            return
        self.ops += 1
        self.latencies.append(time.monotonic() - started)

    async def _call(self, device: Device, what: str, channel: str) -> None:
        if isinstance(device, NativeDevice):
            if what == "history":
                page = await device.call("message/history/get", {"channelId": channel, "limit": 20})
                if page["messages"]:
                    self.last_message[channel] = str(page["messages"][0]["id"])
            elif what == "read":
                await device.call("message/status/read", {"channelId": channel, "pts": self.last_pts[channel]})
            elif what == "reaction":
                emoji = random.choice(["👍", "❤️", "😂"])
                await device.call("message/reaction/add", {"messageId": self.last_message[channel], "emoji": emoji})
            else:
                await device.call("presence/typing", {"channelId": channel})
            return
        if what in GRAPHQL_OPS:
            query, var = GRAPHQL_OPS[what]
            await device.gql(query, {var: channel})
        elif what == "read":
            await device.gql(
                "mutation($c: ID!, $p: Int!) { messageStatusRead(input: {channelId: $c, pts: $p}) { __typename } }",
                {"c": channel, "p": self.last_pts[channel]},
            )
        else:
            await device.gql(
                "mutation($m: ID!, $e: String!) { messageReactionAdd(input: {messageId: $m, emoji: $e}) { changed } }",
                {"m": self.last_message[channel], "e": random.choice(["👍", "❤️", "😂"])},
            )

    def sample(self, pg_connections: int) -> Sample:
        rss, fds = 0.0, 0
        for server in self.cluster.servers:
            assert server.proc is not None
            for pid in [server.proc.pid, *children(server.proc.pid)]:
                with contextlib.suppress(OSError):
                    fds += len(os.listdir(f"/proc/{pid}/fd"))
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            rss += int(line.split()[1]) / 1024
        window, self.latencies = self.latencies, []
        ops, self.ops = self.ops, 0
        errors, self.errors = self.errors, 0
        p50, p99 = percentile(window, 0.5), percentile(window, 0.99)
        return Sample(time.monotonic(), rss, fds, pg_connections, ops, errors, p50 and p50 * 1000, p99 and p99 * 1000)


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if var == 0 else 60 * sum((x - mx) * (y - my) for x, y in points) / var


async def pg_connections(database: str) -> int:
    import asyncpg

    from tests.support import backends

    conn = await asyncpg.connect(backends.PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database))
    finally:
        await conn.close()


@dataclass
class Result:
    samples: list[Sample]
    rss_slope: float
    fd_slope: float
    drift: float
    verdict_ok: bool
    problems: list[str]


HEAP_TOOL = Path(__file__).resolve().parent / "heap"  # sitecustomize.py: tracemalloc + SIGUSR2 snapshots


def heap_env(directory: Path, frames: int = 8) -> dict[str, str]:
    """Server environment for `--heap`: allocations traced, snapshots on SIGUSR2 into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    return {"PYTHONPATH": str(HEAP_TOOL), "PRIVCHAT_HEAP_DIR": str(directory), "PRIVCHAT_HEAP_FRAMES": str(frames)}


def snapshot_heaps(cluster: Cluster) -> None:
    for server in cluster.servers:
        assert server.proc is not None
        for pid in [server.proc.pid, *children(server.proc.pid)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGUSR2)


def heap_growth(directory: Path, top: int = 30) -> str:
    """Per process, what grew between its first and last snapshot, biggest first."""
    import tracemalloc

    lines: list[str] = []
    by_pid: dict[str, list[Path]] = {}
    for path in sorted(directory.glob("*.snap"), key=lambda p: int(p.stem.split("-")[1])):
        by_pid.setdefault(path.stem.split("-")[0], []).append(path)
    for pid, paths in by_pid.items():
        if len(paths) < 2:
            continue
        first, last = tracemalloc.Snapshot.load(str(paths[0])), tracemalloc.Snapshot.load(str(paths[-1]))
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
        first, last = first.filter_traces(ignore), last.filter_traces(ignore)
        total = sum(s.size for s in last.statistics("filename")) - sum(s.size for s in first.statistics("filename"))
        lines.append(f"process {pid}: traced memory {total / 1024:+.0f} KiB between its first and last snapshot")
        for stat in last.compare_to(first, "traceback")[:top]:
            if stat.size_diff <= 0:
                continue
            lines.append(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks (now {stat.size / 1024:.0f} KiB)")
            for frame in stat.traceback.format(limit=6, most_recent_first=True):
                lines.append("      " + frame.strip())
    return "\n".join(lines)


async def soak(
    cluster: Cluster,
    *,
    seconds: float,
    interval: float,
    users: int,
    rate: float,
    warmup: float,
    out: object = None,
    heap: bool = False,
) -> Result:
    """With `heap` (servers started with `heap_env`), tracing starts at the end of the
    warm-up, and heap snapshots are taken a minute later and at the end of the load."""
    state = Soak(cluster)
    pairs = await make_devices(cluster, state.checker, users)
    channels: list[tuple[str, list[Device]]] = []
    for a, b in zip(pairs[::2], pairs[1::2], strict=True):
        assert isinstance(a[0], GraphQLDevice) and isinstance(b[0], GraphQLDevice)
        channel = await a[0].open_direct(b[0].user_id or "")
        for device in (*a, *b):
            state.checker.member(channel, device.name)
        channels.append((channel, [*a, *b]))
    for gql, native in pairs:
        assert isinstance(gql, GraphQLDevice) and isinstance(native, NativeDevice)
        await gql.go_live()
        await native.start()
    give_up = Deadline()
    stop = asyncio.Event()
    actors = [(channel, device) for channel, members in channels for device in members]
    pause = len(actors) / rate

    # A device is either in use or being reconnected, as on a phone (no call on a closed client).
    in_use = {device.name: asyncio.Lock() for _, members in channels for device in members}

    async def actor(channel: str, device: Device) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            began = time.monotonic()
            async with in_use[device.name]:
                await state.op(device, channel, n, give_up)
            await asyncio.sleep(max(0.0, pause - (time.monotonic() - began)))

    async def churn() -> None:
        natives = [n for _, n in pairs if isinstance(n, NativeDevice)]
        while not stop.is_set():
            await asyncio.sleep(5)
            device = random.choice(natives)
            async with in_use[device.name]:
                await device.close()
                device._closing = False  # the SDK object is reused: connect it again
                await device.start()

    database = cluster.database.name if cluster.database else ""
    tasks = [asyncio.create_task(actor(c, d)) for c, d in actors] + [asyncio.create_task(churn())]
    started = time.monotonic()
    samples: list[Sample] = []
    print("   t(s)  rss MiB   fds  pg conns  ops/s  errors  p50 ms  p99 ms", file=out or sys.stdout, flush=True)
    heap_signals = 0  # 1: tracing started at the end of the warm-up; 2: first snapshot a minute later
    while time.monotonic() - started < seconds:
        await asyncio.sleep(interval)
        if heap and heap_signals < 2 and time.monotonic() - started >= warmup + 60 * heap_signals:
            snapshot_heaps(cluster)
            heap_signals += 1
        s = state.sample(await pg_connections(database or ""))
        samples.append(s)
        p50 = "-" if s.p50_ms is None else f"{s.p50_ms:.1f}"
        p99 = "-" if s.p99_ms is None else f"{s.p99_ms:.1f}"
        print(
            f"{s.at - started:7.0f} {s.rss_mib:8.1f} {s.fds:5d} {s.pg_connections:9d} {s.ops / interval:6.1f} "
            f"{s.errors:7d} {p50:>7} {p99:>7}",
            file=out or sys.stdout,
            flush=True,
        )
    if heap:
        snapshot_heaps(cluster)
        await asyncio.sleep(3)  # a snapshot of a big heap takes a moment to write
    stop.set()
    give_up.at = time.monotonic() + 15
    await asyncio.gather(*tasks, return_exceptions=True)
    for gql, native in pairs:
        for device in (gql, native):
            with contextlib.suppress(Exception):
                await device.sync()
        await gql.stop()
        await native.stop()
    steady = [s for s in samples if s.at - started >= warmup]
    rss_slope = slope_per_minute([(s.at, s.rss_mib) for s in steady])
    fd_slope = slope_per_minute([(s.at, float(s.fds)) for s in steady])
    medians = [s.p50_ms for s in steady if s.p50_ms is not None]
    drift = (
        (sorted(medians[-3:])[len(medians[-3:]) // 2] / sorted(medians[:3])[len(medians[:3]) // 2])
        if len(medians) >= 2
        else 1.0
    )
    verdict = state.checker.verdict()
    if state.error_codes:
        print("answers other than OK, by code:", dict(state.error_codes.most_common()), file=out or sys.stdout)
    return Result(samples, rss_slope, fd_slope, drift, verdict.ok, verdict.problems)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0)
    # What fills during the warm-up (bounded; measured with --heap, see the docstring):
    parser.add_argument("--warmup", type=float, default=180.0, help="seconds not used for the slopes")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rate", type=float, default=40.0, help="operations per second in all")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-rss-slope", type=float, default=1.0, help="MiB per minute")
    parser.add_argument("--max-fd-slope", type=float, default=1.0, help="descriptors per minute")
    parser.add_argument("--max-drift", type=float, default=2.0, help="last/first median latency")
    parser.add_argument(
        "--heap",
        action="store_true",
        help="trace the servers' allocations after warm-up (tracemalloc: slower, more memory) and print what "
        "grew from a minute after warm-up to the end",
    )
    args = parser.parse_args()

    async def go() -> Result:
        with tempfile.TemporaryDirectory(prefix="privchat-soak-") as tmp:
            env = heap_env(Path(tmp) / "heap") if args.heap else {}
            cluster = Cluster(Path(tmp), processes=1, workers=args.workers, extra_env=env)
            try:
                await cluster.start()
                result = await soak(
                    cluster,
                    seconds=args.minutes * 60,
                    interval=args.interval,
                    users=args.users,
                    rate=args.rate,
                    warmup=args.warmup,
                    heap=args.heap,
                )
            finally:
                await cluster.stop()
            if args.heap:
                print(heap_growth(Path(tmp) / "heap"))
            return result

    result = asyncio.run(go())
    print(
        f"after warm-up: RSS slope {result.rss_slope:+.2f} MiB/min, fds slope {result.fd_slope:+.2f}/min, "
        f"median latency last/first {result.drift:.2f}x; checker: {'OK' if result.verdict_ok else 'FAILED'}"
    )
    failures = []
    if result.rss_slope > args.max_rss_slope:
        failures.append(f"memory grows {result.rss_slope:.2f} MiB/min")
    if result.fd_slope > args.max_fd_slope:
        failures.append(f"descriptors grow {result.fd_slope:.2f}/min")
    if result.drift > args.max_drift:
        failures.append(f"latency drifted {result.drift:.2f}x")
    if not result.verdict_ok:
        failures.append("checker: " + "; ".join(result.problems[:5]))
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
