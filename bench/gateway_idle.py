"""Idle authenticated native connections (TCP) held by one server process, and its RSS per
connection. Not a test.

    .venv/bin/python -m bench.gateway_idle                        # PostgreSQL + Redis, up to 50,000
    .venv/bin/python -m bench.gateway_idle --target 5000 --backend sqlite

Load generator: several worker processes, each connecting from its own 127.0.0.x source
address (an address has ~28k ephemeral ports) with a small asyncio protocol: CONNECT,
wait for CONNECT_ACK, then stay idle. The connections share `--sessions` device sessions
(logging in tens of thousands of devices first would dominate the run); the server keeps
the same state per connection either way. Stops early when the server's file limit, the
memory budget or the time limit is reached, and prints what it reached.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import time
import uuid
from typing import Any

from bench.common import Accounts, add_backend_argument, bounded, rss_mib, running_server
from gateway_native.codec import Decoder, FrameType, encode


class IdleProtocol(asyncio.Protocol):
    def __init__(self, connect: bytes, stats: dict[str, int]) -> None:
        self.connect = connect
        self.stats = stats
        self.decoder = Decoder()

    def connection_made(self, transport: Any) -> None:
        transport.write(self.connect)

    def data_received(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            if frame.type is FrameType.CONNECT_ACK:
                self.stats["acked"] += 1
            elif frame.type is FrameType.DISCONNECT:
                self.stats["refused"] += 1
                code = f"code:{frame.body.get('code')}"
                self.stats[code] = self.stats.get(code, 0) + 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats["lost"] += 1


def worker(
    index: int, port: int, tokens: list[tuple[str, str]], count: int, rate: float, queue: Any, stop: Any
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stats = {"opened": 0, "acked": 0, "refused": 0, "lost": 0, "failed": 0}
        source = f"127.0.0.{index + 2}"
        frames = [
            encode(FrameType.CONNECT, {"token": t, "deviceId": d, "platform": "linux", "protocolVersion": 1})
            for t, d in tokens
        ]
        started = time.monotonic()
        transports = []
        for n in range(count):
            if stop.is_set():
                break
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                transport, _ = await loop.create_connection(
                    lambda n=n: IdleProtocol(frames[n % len(frames)], stats), "127.0.0.1", port, local_addr=(source, 0)
                )
                transports.append(transport)
                stats["opened"] += 1
            except OSError:
                stats["failed"] += 1
                if stats["failed"] > 50:
                    break
            if n % 200 == 0:
                queue.put((index, dict(stats)))
        while not stop.is_set():
            queue.put((index, dict(stats)))
            await asyncio.sleep(1)
        for transport in transports:
            transport.abort()

    asyncio.run(run())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backend_argument(parser)
    parser.add_argument("--target", type=int, default=50_000, help="connections to try for")
    parser.add_argument("--sessions", type=int, default=400, help="device sessions the connections share")
    parser.add_argument("--workers", type=int, default=4, help="load generator processes (one source address each)")
    parser.add_argument("--rate", type=float, default=400.0, help="new connections per second, all workers")
    parser.add_argument("--budget-mib", type=float, default=1536.0, help="stop when the server's RSS exceeds this")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds for the connecting phase")
    args = parser.parse_args()
    # The server raises its soft file limit to the hard one; that (minus its own files) is
    # the most connections one process can hold on this machine.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = args.target
    if hard != resource.RLIM_INFINITY and target > hard - 300:
        print(
            f"RLIMIT_NOFILE hard limit is {hard} here (not raisable without CAP_SYS_RESOURCE): "
            f"capping the target at {hard - 300} connections instead of {target}"
        )
        target = hard - 300
    env = {"PRIVCHAT_GATEWAY__IDLE_TIMEOUT_SECONDS": "3600", "PRIVCHAT_GATEWAY__AUTH_DEADLINE_SECONDS": "300"}
    async with running_server(args.backend, env) as server:
        accounts = Accounts(server)
        users = [f"idle{uuid.uuid4().hex[:8]}" for _ in range(max(1, args.sessions // 20))]
        await bounded(8, [accounts.register(u) for u in users])

        async def devices(user: str, count: int) -> list[tuple[str, str]]:
            out = []
            for d in range(count):  # one login at a time per user
                _, token = await accounts.login(user, f"idle-{d}")
                out.append((token, f"idle-{d}"))
            return out

        per_user = max(1, args.sessions // len(users))
        tokens = [t for batch in await bounded(8, [devices(u, per_user) for u in users]) for t in batch]
        await accounts.close()
        assert server.proc is not None
        pid = server.proc.pid
        await asyncio.sleep(2)
        baseline = rss_mib(pid)
        print(f"backend: {args.backend}; {len(tokens)} device sessions; server RSS before: {baseline:.0f} MiB")

        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        stop = ctx.Event()
        share = target // args.workers
        procs = [
            ctx.Process(
                target=worker,
                args=(
                    i,
                    server.tcp_port,
                    tokens[i :: args.workers] or tokens,
                    share,
                    args.rate / args.workers,
                    queue,
                    stop,
                ),
            )
            for i in range(args.workers)
        ]
        for proc in procs:
            proc.start()
        latest: dict[int, dict[str, int]] = {}
        started = time.monotonic()
        next_report = 0
        reason = "target reached"
        best = (0, baseline)
        while True:
            await asyncio.sleep(1)
            while not queue.empty():
                index, stats = queue.get()
                latest[index] = stats
            acked = sum(s["acked"] for s in latest.values())
            failed = sum(s["failed"] + s["refused"] for s in latest.values())
            rss = rss_mib(pid)
            codes: dict[str, int] = {}
            for stats in latest.values():
                for key, value in stats.items():
                    if key.startswith("code:"):
                        codes[key[5:]] = codes.get(key[5:], 0) + value
            if acked >= next_report or (failed and not acked):
                per = (rss - baseline) * 1024 / acked if acked else 0.0
                print(
                    f"  {acked:6d} connections  RSS {rss:7.0f} MiB  (+{per:5.1f} KiB per connection)  failures {failed}"
                )
                next_report = acked + max(1000, target // 10)
            if acked > best[0]:
                best = (acked, rss)
            if acked >= target * 0.999:
                break
            if rss > args.budget_mib:
                reason = f"memory budget of {args.budget_mib:.0f} MiB reached"
                break
            if time.monotonic() - started > args.time_limit:
                reason = "time limit reached"
                break
            if failed > 200:
                reason = f"{failed} connection failures"
                break
            if all(not p.is_alive() for p in procs):
                reason = "load generators finished"
                break
        await asyncio.sleep(3)  # settle
        rss = rss_mib(pid)
        acked = max(best[0], sum(s["acked"] for s in latest.values()))
        print(
            f"reached {acked} idle authenticated connections ({reason}) in {time.monotonic() - started:.0f} s; "
            f"server RSS {rss:.0f} MiB, {(rss - baseline) * 1024 / max(acked, 1):.1f} KiB per connection "
            f"(extrapolated to 50,000: {baseline + (rss - baseline) * 50_000 / max(acked, 1):.0f} MiB)"
        )
        stop.set()
        for proc in procs:
            proc.join(30)


if __name__ == "__main__":
    asyncio.run(main())
