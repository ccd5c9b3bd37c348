"""`python -m bench.chaos`: break the service under load and count.

    python -m bench.chaos --faults kill-worker,kill-process,redis,postgres,rolling-restart

Needs PostgreSQL on 127.0.0.1:5432 (a database of its own is created and dropped) and
redis-server installed (it runs its own). Prints the checker's table; exit 1 if anything
acknowledged was lost, duplicated or reordered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

# The test support modules read this at import: the harness always runs on PostgreSQL.
os.environ["PRIVCHAT_TEST_BACKEND"] = "postgres"

from bench.chaos.cluster import FAULTS, Cluster
from bench.chaos.run import Plan, run, table


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=8, help="even: pairs share a direct channel")
    parser.add_argument("--rate", type=float, default=30.0, help="messages per second in all")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, from {', '.join(FAULTS)}")
    parser.add_argument("--fault-seconds", type=float, default=10.0)
    parser.add_argument("--calm-seconds", type=float, default=10.0)
    parser.add_argument("--slow-seconds", type=float, default=60.0, help="slow-consumer: how long devices read nothing")
    parser.add_argument(
        "--slow-burst", type=float, default=25.0, help="slow-consumer: extra msg/s into the frozen devices' channel"
    )
    parser.add_argument(
        "--event-queue-size",
        type=int,
        help="the servers' messaging.event_queue_size (1000 by default; 200 when slow-consumer is run)",
    )
    parser.add_argument(
        "--send-buffer-bytes",
        type=int,
        help="the servers' messaging.socket_send_buffer_bytes (0 by default: the OS autotunes, up to 4 MiB; "
        "65536 when slow-consumer is run)",
    )
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown faults: {unknown}")
    plan = Plan(
        users=args.users,
        rate=args.rate,
        faults=faults,
        fault_seconds=args.fault_seconds,
        calm_seconds=args.calm_seconds,
        slow_seconds=args.slow_seconds,
        slow_burst=args.slow_burst,
    )
    # A frozen device trips the queue bound within its minute only with smaller buffers than
    # the defaults (the kernel alone holds up to 4 MiB per connection): see docs/OPERATIONS.md.
    slow = "slow-consumer" in faults
    queue = args.event_queue_size if args.event_queue_size is not None else (200 if slow else None)
    send_buffer = args.send_buffer_bytes if args.send_buffer_bytes is not None else (65536 if slow else None)
    env = {}
    if queue is not None:
        env["PRIVCHAT_MESSAGING__EVENT_QUEUE_SIZE"] = str(queue)
    if send_buffer is not None:
        env["PRIVCHAT_MESSAGING__SOCKET_SEND_BUFFER_BYTES"] = str(send_buffer)

    async def go() -> bool:
        with tempfile.TemporaryDirectory(prefix="privchat-chaos-") as tmp:
            cluster = Cluster(Path(tmp), processes=args.processes, workers=args.workers, extra_env=env)
            try:
                await cluster.start()
                outcome = await run(cluster, plan)
            finally:
                await cluster.stop()
            print(table(outcome, plan, cluster))
            return outcome.verdict.ok

    return 0 if asyncio.run(go()) else 1


if __name__ == "__main__":
    sys.exit(main())
