"""Prometheus metrics, in a registry per runtime so several servers can share a process (tests).

Under `serve --workers N` (PROMETHEUS_MULTIPROC_DIR set by the supervisor, see
app/workers.py) every worker writes its values to files in that directory and /metrics,
whichever worker answers it, reports the sum over all workers (gauges: over the live ones).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self._scrape_time: list[Collector] = []  # collectors read when scraped
        self.rpc_total = Counter(
            "privchat_rpc", "RPCs by route and result code", ["route", "code"], registry=self.registry
        )
        self.rpc_duration = Histogram(
            "privchat_rpc_duration_seconds",
            "RPC latency by route",
            ["route"],
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )
        # The label children of each (route, code), looked up once: every call of every
        # operation records both, and `labels()` costs a lock and a tuple each time.
        self._rpc_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.connections_current = Gauge(
            "privchat_connections_current",
            "Open client connections",
            ["transport"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.messages_sent = Counter("privchat_messages_sent", "Messages persisted", registry=self.registry)
        self.gateway_frames = Counter(
            "privchat_gateway_frames",
            "Native gateway frames by transport, direction (in|out) and frame type",
            ["transport", "direction", "type"],
            registry=self.registry,
        )
        self.gateway_protocol_errors = Counter(
            "privchat_gateway_protocol_errors",
            "Native gateway protocol errors by transport and kind",
            ["transport", "kind"],
            registry=self.registry,
        )
        self.gateway_disconnects = Counter(
            "privchat_gateway_disconnects",
            "Native gateway connections closed by the server, by DISCONNECT code",
            ["transport", "code"],
            registry=self.registry,
        )
        self.bus_published = Counter(
            "privchat_bus_published", "Bus messages published", ["kind"], registry=self.registry
        )
        self.http_requests = Counter(
            "privchat_graphql_http_requests",
            "GraphQL HTTP requests by status",
            ["status"],
            registry=self.registry,
        )

        self.output_repaired = Counter(
            "privchat_output_repaired",
            "Answers and events holding text that could not be encoded (lone surrogates), "
            "served with U+FFFD in its place, by door",
            ["door"],
            registry=self.registry,
        )

        self.admin_actions = Counter(
            "privchat_admin_actions",
            "Privileged (admin-audience) calls by route and result code, as written to the audit log",
            ["route", "result"],
            registry=self.registry,
        )

        self.deliveries = Counter(
            "privchat_deliveries",
            "Events handed to live connections of this process (one per connection)",
            registry=self.registry,
        )
        self.live_overflows = Counter(
            "privchat_live_overflows",
            "Live event queues of this process that overflowed: the connection's reader was too slow "
            "(or did not read at all), its queued events were dropped and it was told to re-sync",
            registry=self.registry,
        )
        self.bus_lag = Histogram(
            "privchat_bus_lag_seconds",
            "Time from publishing a delivery on the bus to this process receiving it",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )

        self.db_batch_size = Histogram(
            "privchat_db_batch_size",
            "Calls sent to the database together as one statement (group commit), per batch",
            ["statement"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self._batch_children: dict[str, Any] = {}

    def batch_sent(self, statement: str, size: int) -> None:
        """One batch of `size` calls of `statement` went to the database (app/db/batch.py)."""
        child = self._batch_children.get(statement)
        if child is None:
            child = self._batch_children[statement] = self.db_batch_size.labels(statement)
        child.observe(size)

    def watch_pool(self, read: Callable[[], dict[str, int]]) -> None:
        """Database pool use, read at scrape time: {state: connections} (this worker's)."""
        collector = _PoolCollector(read)
        self.registry.register(collector)
        self._scrape_time.append(collector)

    def rpc_done(self, route: str, code: str, seconds: float | None) -> None:
        """Count one call of `route` answered with `code`, and its duration when given."""
        children = self._rpc_children.get((route, code))
        if children is None:
            children = (self.rpc_total.labels(route, code), self.rpc_duration.labels(route))
            self._rpc_children[(route, code)] = children
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)

    def render(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        for collector in self._scrape_time:
            registry.register(collector)
        return generate_latest(registry)


class _PoolCollector(Collector):
    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "privchat_db_pool_connections", "Database connections of this process by state", labels=["state"]
        )
        for state, count in self.read().items():
            family.add_metric([state], count)
        yield family
