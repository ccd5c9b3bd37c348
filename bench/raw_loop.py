"""The raw database loop: the least work a Python process can do per message. Not a test.

    .venv/bin/python -m bench.raw_loop --dsn postgresql://postgres@127.0.0.1/DB --seconds 10

A Python asyncpg client on uvloop, `--tasks` tasks (one channel each) on a pool of
`--pool` connections, each doing back to back

    BEGIN; UPDATE channels SET pts = pts + 1 ... RETURNING pts; INSERT message;
    INSERT event; COMMIT

against the project's own tables (a migrated database). Prints one JSON line:
transactions/s, this process's CPU per transaction and PostgreSQL's (all its
processes on this machine) per transaction. bench/core.py runs it in the same run as
the server so that the server's figures are read as ratios to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import asyncpg
import uvloop

from bench.common import postgres_cpu_seconds

UPDATE = "UPDATE channels SET pts = pts + 1, last_event_at = $2 WHERE id = $1 RETURNING pts"
INSERT_MESSAGE = (
    "INSERT INTO messages (channel_id, pts, sender_id, client_msg_id, type, content, mention_all, created_at) "
    "VALUES ($1, $2, $3, $4, 'text', $5::jsonb, false, $6) RETURNING id"
)
INSERT_EVENT = (
    "INSERT INTO channel_events (channel_id, pts, kind, actor_id, message_id, created_at) "
    "VALUES ($1, $2, 'message', $3, $4, $5)"
)


async def setup(pool: asyncpg.Pool, tasks: int) -> tuple[int, list[int]]:
    now = int(time.time() * 1000)
    async with pool.acquire() as conn:
        user = await conn.fetchval(
            "INSERT INTO users (username, username_key, display_name, password_hash, is_admin, disabled, "
            "created_at, updated_at) VALUES ($1, $1, 'raw', 'x', false, false, $2, $2) RETURNING id",
            f"raw{uuid.uuid4().hex[:8]}",
            now,
        )
        channels = [
            await conn.fetchval(
                "INSERT INTO channels (kind, pts, member_count, created_at, last_event_at) "
                "VALUES ('group', 0, 1, $1, $1) RETURNING id",
                now,
            )
            for _ in range(tasks)
        ]
    return user, channels


async def run(dsn: str, *, seconds: float, tasks: int, pool_size: int) -> dict[str, float]:
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    user, channels = await setup(pool, tasks)
    done = 0
    stop_at = 0.0

    async def loop(channel: int) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            now = int(time.time() * 1000)
            async with pool.acquire() as conn, conn.transaction():
                pts = await conn.fetchval(UPDATE, channel, now)
                message = await conn.fetchval(
                    INSERT_MESSAGE, channel, pts, user, uuid.uuid4().hex, '{"text": "t"}', now
                )
                await conn.execute(INSERT_EVENT, channel, pts, user, message, now)
            done += 1

    stop_at = time.perf_counter() + 1.0  # warm-up: connections, prepared statements
    await asyncio.gather(*(loop(c) for c in channels))
    done = 0
    cpu0, pg0, t0 = time.process_time(), postgres_cpu_seconds(), time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(loop(c) for c in channels))
    elapsed = time.perf_counter() - t0
    cpu, pg = time.process_time() - cpu0, postgres_cpu_seconds() - pg0
    await pool.close()
    return {
        "tx_per_s": done / elapsed,
        "client_cpu_ms_per_tx": 1000 * cpu / done,
        "pg_cpu_ms_per_tx": 1000 * pg / done,
        "transactions": done,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--pool", type=int, default=20)
    args = parser.parse_args()
    result = uvloop.run(run(args.dsn, seconds=args.seconds, tasks=args.tasks, pool_size=args.pool))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
