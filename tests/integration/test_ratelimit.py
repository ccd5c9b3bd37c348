"""Rate limits hold under bursts, in memory and in Redis (PostgreSQL backend runs)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.errors import AppError
from app.ratelimit import RateLimiter
from app.runtime import Services
from tests.support import backends


async def test_a_burst_is_counted_exactly_and_the_excess_refused(services: Services) -> None:
    limiter = services.ratelimit
    results = await asyncio.gather(*[limiter.hit("300/minute", "burst", "k") for _ in range(300)], return_exceptions=True)
    assert [r for r in results if r is not None] == []  # 300 concurrent hits, no pool errors, none refused
    with pytest.raises(AppError) as refused:
        await limiter.hit("300/minute", "burst", "k")
    assert refused.value.code.value == "RATE_LIMITED"
    await limiter.hit("300/minute", "burst", "other-key")  # other keys are unaffected


def _pair(prefix: str) -> tuple[RateLimiter, RateLimiter]:
    """Two limiters sharing Redis, as two server processes do."""
    return (
        RateLimiter(backends.REDIS_URL, key_prefix=prefix, sync_interval=3600),
        RateLimiter(backends.REDIS_URL, key_prefix=prefix, sync_interval=3600),
    )


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="needs Redis (PRIVCHAT_TEST_BACKEND=postgres)")
async def test_processes_share_a_limit_once_they_reconcile() -> None:
    one, two = _pair("rl" + uuid.uuid4().hex[:8])
    try:
        for _ in range(6):
            await one.hit("10/minute", "u")
        await two.hit("10/minute", "u")  # a process learns of a key's usage once it serves it
        await one.reconcile()
        await two.reconcile()
        for _ in range(3):
            await two.hit("10/minute", "u")  # 6 + 4: the limit, not past it
        with pytest.raises(AppError):
            await two.hit("10/minute", "u")
        await two.reconcile()
        # "one" has served no hit since its last reconcile: it re-reads the key within a
        # second (quiet_sync), not every interval.
        one.quiet_sync = 0.0
        await one.reconcile()
        with pytest.raises(AppError):
            await one.hit("10/minute", "u")  # the other process's hits count here too
    finally:
        await one.stop()
        await two.stop()


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="needs Redis (PRIVCHAT_TEST_BACKEND=postgres)")
async def test_strict_limits_are_exact_across_processes_without_reconciling() -> None:
    one, two = _pair("rl" + uuid.uuid4().hex[:8])
    try:
        results = await asyncio.gather(
            *[limiter.hit("5/minute", "login", strict=True) for limiter in (one, two) for _ in range(5)],
            return_exceptions=True,
        )
        assert sum(r is None for r in results) == 5
        assert all(isinstance(r, AppError) for r in results if r is not None)
    finally:
        await one.stop()
        await two.stop()


async def test_with_redis_unreachable_limits_hold_per_process_and_calls_go_on() -> None:
    # Nothing listens on port 1: every Redis call fails at once.
    limiter = RateLimiter("redis://127.0.0.1:1/0", key_prefix="down", sync_interval=0.01)
    await limiter.start()
    try:
        for _ in range(3):
            await limiter.hit("3/minute", "u")
            await limiter.hit("3/minute", "ip", strict=True)
        await asyncio.sleep(0.05)  # the reconcile task fails meanwhile, and keeps going
        for key, strict in (("u", False), ("ip", True)):
            with pytest.raises(AppError) as refused:
                await limiter.hit("3/minute", key, strict=strict)
            assert refused.value.code.value == "RATE_LIMITED"
        assert limiter._reconciler.alive
    finally:
        await limiter.stop()


async def test_the_window_slides(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = RateLimiter(None)
    now = [1_000_000.0]
    monkeypatch.setattr(limiter, "_now", lambda: now[0])
    for _ in range(4):
        await limiter.hit("4/second", "k")
    with pytest.raises(AppError):
        await limiter.hit("4/second", "k")
    now[0] += 1.5  # half of the previous window still weighs: 4 * 0.5 = 2 of 4 used
    await limiter.hit("4/second", "k")
    await limiter.hit("4/second", "k")
    with pytest.raises(AppError):
        await limiter.hit("4/second", "k")
    now[0] += 2.0
    await limiter.hit("4/second", "k")


@pytest.mark.skipif(not backends.IS_POSTGRES, reason="needs Redis (PRIVCHAT_TEST_BACKEND=postgres)")
async def test_keys_without_new_hits_are_reread_once_a_second_not_every_interval() -> None:
    limiter = RateLimiter(backends.REDIS_URL, key_prefix="rl" + uuid.uuid4().hex[:8], sync_interval=0.1)
    clock = [1_000_000.0]
    limiter._now = lambda: clock[0]
    synced: list[int] = []
    script = limiter._sync

    async def counted(*, keys: list[str], args: list[int]) -> object:
        synced.append(len(keys) // 2)
        return await script(keys=keys, args=args)

    limiter._sync = counted  # type: ignore[method-assign]
    try:
        await limiter.hit("100/minute", "idle")
        await limiter.hit("100/minute", "busy")
        await limiter.reconcile()  # both have new hits
        for _ in range(5):  # 0.5 s: only the key with new hits goes to Redis
            clock[0] += 0.1
            await limiter.hit("100/minute", "busy")
            await limiter.reconcile()
        clock[0] += 0.6  # a second since "idle" was last read: read again
        await limiter.reconcile()
        assert synced == [2, 1, 1, 1, 1, 1, 1]
    finally:
        await limiter.stop()
