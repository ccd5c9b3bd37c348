"""Redis clients as every Redis user of the server builds them (bus, rate limits, presence).

After a Redis restart every pooled connection is dead. Health checks (a PING before a
command on a connection idle for longer than the interval) and a short retry on
connection errors let the first command after the restart reconnect instead of failing;
short timeouts keep a Redis outage from stalling requests: callers decide locally and
retry later (see docs/OPERATIONS.md, "Redis down").
"""

from __future__ import annotations

from redis import asyncio as redis_asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

HEALTH_CHECK_INTERVAL = 5  # seconds
CONNECT_TIMEOUT = 1.0
# Bounds one command: long enough for a loaded Redis, short enough that a blackholed one
# fails requests' hints fast.
SOCKET_TIMEOUT = 2.0

# The errors that mean "Redis cannot be reached", as opposed to a bad command.
UNREACHABLE: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

__all__ = ["UNREACHABLE", "RedisConnectionError", "RedisError", "redis_client"]


def redis_client(url: str, *, decode_responses: bool = False) -> redis_asyncio.Redis:
    """A client whose dead connections reconnect on first use (twice, 20 then 40 ms apart)."""
    return redis_asyncio.Redis.from_url(
        url,
        decode_responses=decode_responses,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), retries=2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
