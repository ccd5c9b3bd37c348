"""Prometheus metrics, in a registry per runtime so several servers can share a process (tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.connections_current = Gauge(
            "privchat_connections_current", "Open client connections", ["transport"], registry=self.registry
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
