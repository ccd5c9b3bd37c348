"""Presence across processes (Redis): several processes agree on who is online, report
each transition exactly once, and the connections of a crashed process lapse.

Each "process" here is a PresenceService with its own RedisPresenceState on the shared
Redis and key prefix; the last test runs the in-memory state through the same contract.
Real server processes: tests/e2e/test_presence_e2e.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.events import Listener
from app.presence.redis_state import RedisPresenceState
from app.presence.service import PresenceService
from app.presence.state import Conn, MemoryPresenceState, PresenceState
from app.runtime import Services
from tests.support import backends, factories
from tests.support.factories import Account

redis_only = pytest.mark.skipif(not backends.IS_POSTGRES, reason="needs Redis (PRIVCHAT_TEST_BACKEND=postgres)")
TTL_MS = 600
MARK = {"type": "test_marker"}


def process(services: Services, ttl_ms: int = TTL_MS) -> PresenceService:
    """Another server process's presence, sharing Redis, database and bus with `services`."""
    state = RedisPresenceState(
        backends.REDIS_URL, key_prefix=services.settings.cache.key_prefix, ttl_ms=ttl_ms, subscription_ttl_ms=60_000
    )
    return PresenceService(
        db=services.db, hub=services.hub, policy=services.policy, log=services.log, state=state
    )


def device(account: Account) -> Listener:
    return Listener(account.principal, 100)


async def watching(services: Services, watcher: Account, *targets: Account) -> Any:
    await services.presence.subscribe(watcher.principal, [t.user_id for t in targets])
    return services.hub.listen(watcher.principal)


async def transitions(services: Services, listener: Listener) -> list[tuple[int, str]]:
    """Presence events queued for the listener (up to a marker sent now)."""
    await services.hub.deliver([listener.principal.user_id], MARK)
    out = []
    while (item := await asyncio.wait_for(listener.get(), 5)) != MARK:
        if item["type"] == "presence":
            out.append((item["userId"], item["status"]))
    return out


@redis_only
async def test_processes_agree_and_report_each_transition_once(services: Services) -> None:
    ann = await factories.account(services, "ann")
    tablet = await factories.login(services, "ann", device_id="tablet")
    bob = await factories.account(services, "bob")
    a, b = process(services), process(services)
    try:
        async with await watching(services, bob, ann) as stream:
            phone_conn, tablet_conn = device(ann), device(tablet)
            # both devices connect at once, on two processes: one "online"
            await asyncio.gather(a.device_connected(phone_conn), b.device_connected(tablet_conn))
            assert await transitions(services, stream) == [(ann.user_id, "online")]
            for p in (a, b):  # each process sees both devices
                [me] = await p.query(ann.principal, [ann.user_id])
                assert me.status.value == "online" and me.device_count == 2
            await a.device_disconnected(phone_conn)
            assert await transitions(services, stream) == []
            [seen] = await a.query(bob.principal, [ann.user_id])
            assert seen.status.value == "online"  # the tablet on process b keeps ann online
            await b.device_disconnected(tablet_conn)
            assert await transitions(services, stream) == [(ann.user_id, "offline")]
    finally:
        await a.stop()
        await b.stop()


@redis_only
async def test_a_crashed_processes_connections_lapse_and_are_reported_once(services: Services) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    crashed, alive, other = process(services), process(services), process(services)
    try:
        async with await watching(services, bob, ann) as stream:
            await crashed.device_connected(device(ann))
            assert await transitions(services, stream) == [(ann.user_id, "online")]
            await alive.tick()  # within the TTL nothing lapses
            [now] = await alive.query(bob.principal, [ann.user_id])
            assert now.status.value == "online"
            # `crashed` stops heartbeating; once the TTL passes, sweeps (on any number of
            # processes at once) report ann offline exactly once
            await asyncio.sleep(TTL_MS / 1000 + 0.2)
            await asyncio.gather(alive.tick(), other.tick())
            assert await transitions(services, stream) == [(ann.user_id, "offline")]
            [gone] = await alive.query(bob.principal, [ann.user_id])
            assert gone.status.value == "offline" and gone.last_seen_at is not None
    finally:
        for p in (alive, other):
            await p.stop()
        await crashed.state.close()


@redis_only
async def test_a_process_that_paused_past_the_ttl_brings_its_users_back(services: Services) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    paused, sweeper = process(services), process(services)
    try:
        await services.presence.subscribe(bob.principal, [ann.user_id])
        async with services.hub.listen(bob.principal) as stream:
            await paused.device_connected(device(ann))
            await asyncio.sleep(TTL_MS / 1000 + 0.2)
            await sweeper.tick()
            await paused.tick()  # its heartbeat finds the connection gone and re-adds it
            assert await transitions(services, stream) == [
                (ann.user_id, "online"),
                (ann.user_id, "offline"),
                (ann.user_id, "online"),
            ]
            [back] = await sweeper.query(bob.principal, [ann.user_id])
            assert back.status.value == "online"
    finally:
        await paused.stop()
        await sweeper.stop()


async def test_a_failing_presence_store_does_not_cost_a_device_its_stream(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await factories.account(services, "ann")

    async def broken(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("presence store down")

    monkeypatch.setattr(services.presence.state, "connect", broken)
    monkeypatch.setattr(services.presence.state, "disconnect", broken)
    async with services.hub.listen(ann.principal) as listener:
        await services.hub.deliver([ann.user_id], MARK)
        assert await asyncio.wait_for(listener.get(), 5) == MARK


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_state_contract(services: Services, backend: str) -> None:
    """Transitions, devices, counts and bounded subscriptions: the same for both states."""
    if backend == "redis" and not backends.IS_POSTGRES:
        pytest.skip("needs Redis")
    state: PresenceState = (
        MemoryPresenceState(subscription_ttl_ms=1_000)
        if backend == "memory"
        else RedisPresenceState(
            backends.REDIS_URL,
            key_prefix=services.settings.cache.key_prefix + "x",
            ttl_ms=60_000,
            subscription_ttl_ms=1_000,
        )
    )
    try:
        now = 1_000_000
        phone, phone2, tablet = Conn(7, "phone", "p:1"), Conn(7, "phone", "p:2"), Conn(7, "tab:1", "q:1")
        assert await state.connect(phone, now) is True
        assert await state.connect(phone2, now) is False
        assert await state.connect(tablet, now) is False
        assert await state.online_devices([7, 8], now) == {7: 2}
        assert await state.counts(now) == type(await state.counts(now))(users=1, devices=2)
        assert await state.disconnect(phone, now) is False
        assert await state.disconnect(phone, now) is False  # twice is harmless
        assert await state.disconnect(tablet, now) is False
        assert await state.online_devices([7], now) == {7: 1}
        assert await state.disconnect(phone2, now) is True
        assert await state.online_devices([7], now) == {}
        # subscriptions: bounded, renewable, expiring
        assert await state.subscribe(1, [7, 8], now, limit=3) == 2
        assert await state.subscribe(1, [8, 9], now, limit=3) == 3
        assert await state.subscribe(1, [10], now, limit=3) is None
        assert await state.subscribers(8, now) == {1}
        assert await state.unsubscribe(1, [8], now) == 2
        assert await state.subscribers(8, now) == set()
        assert await state.subscription_count(1, now + 2_000) == 0  # lapsed
        assert await state.subscribers(7, now + 2_000) == set()
        assert await state.unsubscribe(1, None, now) == 0
    finally:
        await state.close()
