"""Rate limits: sliding-window counters, decided in-process, shared through Redis.

A rule is "N/period" ("600/minute"). Each (rule, key) has a counter per fixed window of
the period; the estimate of the last period is `previous * (1 - elapsed) + current`
(the sliding-window-counter approximation: a steady rate is held to N per period, a
burst at a window boundary cannot double it).

Two ways to decide, both without threads or locks:

- `hit(rule, *key)`: the hot path (every authenticated call). The decision is local: this
  process's own hits plus the other processes' hits as last reconciled. A background task
  adds this process's new hits to Redis and reads the totals back every
  `sync_interval` seconds, one script call for all active keys, so the request path makes
  no Redis round trip at all. Across N processes a key may exceed its limit by what the
  other processes admitted since the last reconcile: at most `sync_interval` ago for a
  key this process is serving, at most a second ago for one it has not served since
  (idle keys are not re-read every interval: most connected users are idle).
- `hit(rule, *key, strict=True)`: security limits (login attempts, registrations). One
  Redis round trip that checks and counts atomically (a Lua script), exact across
  processes.

Redis down: both fall back to this process's own counts (a per-process budget), the
reconcile task keeps trying, and nothing on the request path waits for Redis; a warning
is logged once per outage. Without Redis (a single process) everything is local.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from redis import asyncio as redis_asyncio
from redis.exceptions import RedisError

from app.errors import AppError, ErrorCode
from app.periodic import Periodic
from app.redis_client import redis_client

log = logging.getLogger(__name__)

# KEYS[1] = current window, KEYS[2] = previous window; ARGV = limit, weight of previous, ttl.
_STRICT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
if prev * tonumber(ARGV[2]) + cur + 1 > tonumber(ARGV[1]) then
    return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


# The reconcile: for each counter i, KEYS[2i-1] = current window, KEYS[2i] = previous;
# ARGV[3i-2], ARGV[3i-1] = this process's unsynced hits of each, ARGV[3i] = ttl. Returns
# everyone's totals, two per counter. One command however many keys are active (a pipeline
# of INCRBY/EXPIRE per key cost the server process ~20% of its busy time under load).
_SYNC = """
local totals = {}
for i = 1, #KEYS, 2 do
    local n = (i + 1) / 2
    local ttl = ARGV[3 * n]
    totals[i] = redis.call('INCRBY', KEYS[i], ARGV[3 * n - 2])
    redis.call('EXPIRE', KEYS[i], ttl)
    totals[i + 1] = redis.call('INCRBY', KEYS[i + 1], ARGV[3 * n - 1])
    redis.call('EXPIRE', KEYS[i + 1], ttl)
end
return totals
"""


@dataclass(frozen=True, slots=True)
class Rule:
    limit: int
    period: float  # seconds

    @classmethod
    def of(cls, item: RateLimitItem) -> Rule:
        return cls(limit=item.amount, period=float(item.get_expiry()))


@dataclass(slots=True)
class _Counter:
    """One (rule, key): this process's hits and the others' (as last reconciled), for the
    current and the previous window."""

    rule: Rule
    redis_key: str
    window: int = 0
    mine: int = 0
    mine_prev: int = 0
    others: int = 0
    others_prev: int = 0
    unsynced: int = 0  # hits of the current window not yet added to Redis
    unsynced_prev: int = 0  # ... and of the previous one
    touched: float = 0.0
    synced: float = 0.0  # when Redis last told this process everyone's totals

    def roll(self, window: int) -> None:
        if window == self.window:
            return
        if window == self.window + 1:
            self.mine_prev, self.others_prev, self.unsynced_prev = self.mine, self.others, self.unsynced
        else:
            self.mine_prev = self.others_prev = self.unsynced_prev = 0
        self.window, self.mine, self.others, self.unsynced = window, 0, 0, 0

    def estimate(self, fraction: float) -> float:
        return (self.mine_prev + self.others_prev) * (1.0 - fraction) + self.mine + self.others


class RateLimiter:
    def __init__(
        self,
        redis_url: str | None = None,
        *,
        key_prefix: str = "privchat",
        sync_interval: float = 0.1,
    ) -> None:
        self.key_prefix = f"{key_prefix}-rl"
        self.sync_interval = sync_interval
        self.quiet_sync = max(sync_interval, 1.0)
        self._now = time.time
        self._rules: dict[str, Rule] = {}
        self._counters: dict[tuple[str, ...], _Counter] = {}
        self._redis: redis_asyncio.Redis | None = None
        if redis_url:
            # Health-checked, retried connections: after a Redis restart no pooled
            # connection fails its first command.
            self._redis = redis_client(redis_url)
            self._strict = self._redis.register_script(_STRICT)
            self._sync = self._redis.register_script(_SYNC)
        self._reconciler = Periodic(
            "ratelimit-sync", lambda: self.sync_interval, lambda: self.reconcile(), on_error=self._reconcile_failed
        )
        self._redis_down = False
        self._last_prune = 0.0

    # -- deciding -------------------------------------------------------------------------

    def rule(self, spec: str) -> Rule:
        rule = self._rules.get(spec)
        if rule is None:
            rule = self._rules[spec] = Rule.of(parse(spec))
        return rule

    async def hit(self, spec: str, *key: str, strict: bool = False) -> None:
        """Count one hit; RATE_LIMITED once `spec` (e.g. "10/minute") is exceeded for `key`."""
        rule = self.rule(spec)
        now = self._now()
        window, fraction = divmod(now / rule.period, 1.0)
        counter = self._counter(spec, key, rule)
        counter.roll(int(window))
        counter.touched = now
        if strict and self._redis is not None and not self._redis_down:
            allowed = await self._hit_strict(counter, fraction)
            if allowed is not None:
                if not allowed:
                    raise _limited(spec)
                counter.mine += 1
                return
        if counter.estimate(fraction) + 1 > rule.limit:
            raise _limited(spec)
        counter.mine += 1
        if not strict:
            counter.unsynced += 1
        if now - self._last_prune > 60:
            self._prune(now)

    def _counter(self, spec: str, key: tuple[str, ...], rule: Rule) -> _Counter:
        counter = self._counters.get((spec, *key))
        if counter is None:
            redis_key = f"{self.key_prefix}:{spec}:" + ":".join(key)
            counter = self._counters[(spec, *key)] = _Counter(rule, redis_key)
        return counter

    def _window_keys(self, counter: _Counter) -> tuple[str, str]:
        return f"{counter.redis_key}:{counter.window}", f"{counter.redis_key}:{counter.window - 1}"

    def _prune(self, now: float) -> None:
        self._last_prune = now
        stale = [k for k, c in self._counters.items() if now - c.touched > 2 * c.rule.period]
        for k in stale:
            del self._counters[k]

    # -- Redis ----------------------------------------------------------------------------

    async def _hit_strict(self, counter: _Counter, fraction: float) -> bool | None:
        """Check and count in Redis; None when Redis cannot answer (decide locally)."""
        try:
            ttl = int(2 * counter.rule.period) + 1
            result = await self._strict(
                keys=list(self._window_keys(counter)), args=[counter.rule.limit, 1.0 - fraction, ttl]
            )
        except (RedisError, OSError):
            self._went_down()
            return None
        return bool(result)

    async def start(self) -> None:
        if self._redis is not None:
            self._reconciler.start()

    async def stop(self) -> None:
        await self._reconciler.stop()
        if self._redis is not None:
            await self._redis.aclose()

    def _reconcile_failed(self, error: Exception) -> None:
        if isinstance(error, RedisError | OSError):
            self._went_down()
        else:  # never let the task die: limits would stop being shared
            log.exception("rate limit reconcile failed")

    async def reconcile(self) -> None:
        """Add this process's new hits to Redis and learn everyone's totals, for every key
        hit in the last period (one script call)."""
        assert self._redis is not None
        now = self._now()
        # A key with new hits here is synced every interval; one only used elsewhere (or
        # idle) once per `quiet_sync` seconds: its others' count is what this process
        # decides on when it is next hit, so that staleness bounds the over-admission.
        active = [
            c
            for c in self._counters.values()
            if c.unsynced or c.unsynced_prev or (now - c.touched <= c.rule.period and now - c.synced >= self.quiet_sync)
        ]
        if not active:
            return
        for counter in active:
            counter.roll(int(now / counter.rule.period))
        pending = [(c, c.window, c.unsynced, c.unsynced_prev) for c in active]
        keys: list[str] = []
        args: list[int] = []
        for counter, _, unsynced, unsynced_prev in pending:
            keys.extend(self._window_keys(counter))
            args += (unsynced, unsynced_prev, int(2 * counter.rule.period) + 1)
        results = await self._sync(keys=keys, args=args)
        if self._redis_down:
            self._redis_down = False
            log.info("rate limits are shared through Redis again")
        for i, (counter, window, unsynced, unsynced_prev) in enumerate(pending):
            total, total_prev = int(results[2 * i]), int(results[2 * i + 1])
            if counter.window == window + 1:
                # Rolled over while the script ran: what was current is now previous.
                counter.unsynced_prev -= unsynced
                counter.others_prev = max(0, total - (counter.mine_prev - counter.unsynced_prev))
                continue
            if counter.window != window:
                continue
            counter.unsynced -= unsynced
            counter.unsynced_prev -= unsynced_prev
            counter.synced = now
            # Everyone's hits in Redis minus this process's synced ones are the others'.
            counter.others = max(0, total - (counter.mine - counter.unsynced))
            counter.others_prev = max(0, total_prev - (counter.mine_prev - counter.unsynced_prev))

    def _went_down(self) -> None:
        if not self._redis_down:
            self._redis_down = True
            log.warning("Redis unreachable: rate limits are enforced per process until it is back")


def _limited(spec: str) -> AppError:
    return AppError(ErrorCode.RATE_LIMITED, "too many requests, slow down", limit=spec)
