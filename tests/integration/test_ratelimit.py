"""Rate limits hold under bursts, in memory and in Redis (PostgreSQL backend runs)."""

from __future__ import annotations

import asyncio

import pytest

from app.errors import AppError
from app.runtime import Services


async def test_a_burst_is_counted_exactly_and_the_excess_refused(services: Services) -> None:
    limiter = services.ratelimit
    results = await asyncio.gather(*[limiter.hit("300/minute", "burst", "k") for _ in range(300)], return_exceptions=True)
    assert [r for r in results if r is not None] == []  # 300 concurrent hits, no pool errors, none refused
    with pytest.raises(AppError) as refused:
        await limiter.hit("300/minute", "burst", "k")
    assert refused.value.code.value == "RATE_LIMITED"
    await limiter.hit("300/minute", "burst", "other-key")  # other keys are unaffected
