"""Rate limits with the `limits` library: in memory, or in Redis when configured."""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from app.errors import AppError, ErrorCode


class RateLimiter:
    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "privchat") -> None:
        self.storage: Storage = (
            RedisStorage("async+" + redis_url, implementation="redispy", key_prefix=f"{key_prefix}-rl")
            if redis_url
            else MemoryStorage()
        )
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
