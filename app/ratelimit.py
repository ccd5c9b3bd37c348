"""Rate limits with the `limits` library: in memory, or in Redis when configured."""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis import asyncio as redis_asyncio

from app.errors import AppError, ErrorCode


class RateLimiter:
    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "privchat") -> None:
        if redis_url:
            # A bounded pool where callers wait for a connection: a burst of logins must
            # queue, not fail with "too many connections".
            pool = redis_asyncio.BlockingConnectionPool.from_url(redis_url, max_connections=64, timeout=10)
            self.storage: Storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=f"{key_prefix}-rl",
                connection_pool=pool,  # type: ignore[arg-type]
            )
        else:
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._parsed: dict[str, RateLimitItem] = {}

    def _item(self, rule: str) -> RateLimitItem:
        item = self._parsed.get(rule)
        if item is None:
            item = self._parsed[rule] = parse(rule)
        return item

    async def hit(self, rule: str, *key: str) -> None:
        """Count one hit; raise RATE_LIMITED once `rule` (e.g. "10/minute") is exceeded."""
        if not await self._limiter.hit(self._item(rule), *key):
            raise AppError(ErrorCode.RATE_LIMITED, "too many requests, slow down", limit=rule)

    async def clear(self, rule: str, *key: str) -> None:
        await self._limiter.clear(self._item(rule), *key)
