"""The chaos harness, bounded for CI: a few seconds of load over both doors on two
processes, one Redis outage, and the independent checker's verdict (bench/chaos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos.cluster import Cluster
from bench.chaos.run import Plan, run, table
from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.faults import RedisServer

# serial: its latency and throughput bounds assume nothing else loads the machine.
pytestmark = [
    pytest.mark.skipif(
        not backends.IS_POSTGRES or not RedisServer.available(),
        reason="needs PostgreSQL + redis-server (PRIVCHAT_TEST_BACKEND=postgres)",
    ),
    pytest.mark.serial,
]


async def test_a_redis_outage_under_load_loses_duplicates_and_reorders_nothing(
    tmp_path: Path, db_factory: DatabaseFactory
) -> None:
    cluster = Cluster(tmp_path, processes=2, workers=1, db_factory=db_factory)
    plan = Plan(users=4, rate=20, faults=["redis"], fault_seconds=3, calm_seconds=4, settle_seconds=10)
    try:
        await cluster.start()
        outcome = await run(cluster, plan)
    finally:
        await cluster.stop()
    print(table(outcome, plan, cluster))
    verdict = outcome.verdict
    assert verdict.ok, verdict.problems
    assert verdict.acknowledged >= 100 and verdict.unacknowledged == 0
    # Sends keep being acknowledged while Redis is down, and nothing fails after it is back.
    (redis,) = outcome.faults
    assert redis.errors == {}, redis.errors
    assert verdict.delivered_live > 0


# Fault 4 in seconds instead of a minute: the server's bounds made small (10 queued events,
# a 4 KiB kernel send buffer, doubled by Linux; the process's own 64 KiB write buffer per
# connection stays), so they trip within seconds of the burst; under 20 s, so the server's
# WebSocket keepalive (a ping every 20 s, 20 s to answer) does not close the frozen GraphQL
# connection first.
SMALL_BOUNDS = {"PRIVCHAT_MESSAGING__EVENT_QUEUE_SIZE": "10", "PRIVCHAT_MESSAGING__SOCKET_SEND_BUFFER_BYTES": "4096"}


@pytest.mark.timeout(240)
async def test_slow_consumers_are_told_to_resync_and_catch_up_while_memory_stays_bounded(
    tmp_path: Path, db_factory: DatabaseFactory
) -> None:
    cluster = Cluster(tmp_path, processes=1, workers=1, db_factory=db_factory, extra_env=SMALL_BOUNDS)
    plan = Plan(
        users=4,
        rate=10,
        faults=["slow-consumer"],
        slow_seconds=16,  # at most: they read again once both queues overflowed
        calm_seconds=6,
        settle_seconds=10,
        slow_burst=60,
        slow_until_overflow=True,
    )
    try:
        await cluster.start()
        outcome = await run(cluster, plan)
    finally:
        await cluster.stop()
    print(table(outcome, plan, cluster))
    verdict = outcome.verdict
    assert verdict.ok, verdict.problems
    (slow,) = outcome.slow_consumers
    assert slow.burst_sent > 0
    # Each frozen device's queue overflowed; once it read again it got ResyncRequiredEvent
    # on the connection it had, and caught up by itself (before the run's final sync).
    assert slow.overflows >= 2
    for frozen in slow.frozen:
        assert frozen.connection == "open" and frozen.reconnects == 0, frozen
        assert frozen.resyncs >= 1, frozen
        assert frozen.caught_up is not None, frozen
    # What the server held for them stayed bounded (a few hundred events went unread).
    assert slow.rss_peak - slow.rss_before < 25, slow.rss
    # The others kept getting their events live meanwhile, with nothing failing.
    (result,) = outcome.faults
    assert result.errors == {}, result.errors
    live_during = result.phases["during"][2:]
    assert live_during[0] is not None and live_during[1] is not None and live_during[1] < 3.0, live_during
