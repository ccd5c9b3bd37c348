"""The soak, 2 minutes for CI (bench/soak.py; `python -m bench.soak --minutes 10` is the
full one): steady mixed load on both doors with presence churn; after a minute of
warm-up, memory and file descriptors must not keep growing, latency must not drift,
and the checker must find nothing acknowledged lost, duplicated or reordered."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos.cluster import Cluster
from bench.soak import soak
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


# Two minutes of load plus the cluster's start and stop: beyond the suite's 120 s default.
@pytest.mark.timeout(300)
async def test_two_minutes_of_mixed_load_leak_nothing(tmp_path: Path, db_factory: DatabaseFactory) -> None:
    cluster = Cluster(tmp_path, processes=1, workers=1, db_factory=db_factory)
    try:
        await cluster.start()
        # The per-process caches of live events (schema/fanout.py, 2,048 items) fill in
        # about a minute at this rate: the slopes are taken after that.
        result = await soak(cluster, seconds=120, interval=10, users=4, rate=40, warmup=70)
    finally:
        await cluster.stop()
    assert result.verdict_ok, result.problems
    assert sum(s.errors for s in result.samples) == 0
    # Over 50 steady seconds the slopes are noisy: these bounds catch a leak per operation
    # (~2,400 operations a minute), not a slow drift (the 10-minute soak's job).
    assert result.fd_slope <= 3, [s.fds for s in result.samples]
    assert result.rss_slope <= 4, [round(s.rss_mib, 1) for s in result.samples]
    assert result.drift <= 3
