"""Python SDK of the native gateway (used by the end-to-end tests and the benchmarks).

`NativeConnection` speaks frames; `Client` adds login, sync by pts/seq with the gap
rule, and reconnection with backoff. See docs/PROTOCOL.md.
"""

from gateway_native.client.client import RECONNECTABLE, Client
from gateway_native.client.connection import ConnectAck, Disconnected, NativeConnection, RpcError
from gateway_native.client.transports import Endpoint

__all__ = ["RECONNECTABLE", "Client", "ConnectAck", "Disconnected", "Endpoint", "NativeConnection", "RpcError"]
