"""Fault 4, slow consumers: a device on each door reads nothing while the load runs.

Each frozen device stops reading its live socket altogether (the transport is paused: no
data, no pong, no PING of its own, no calls), as a suspended app. The server must keep
its memory bounded meanwhile (per connection: `messaging.event_queue_size` queued items,
then one `ResyncRequiredEvent` instead of them, plus the socket buffers), the other
devices must not notice, and once the device reads again it must catch up by itself
(docs/SYNC.md: the resync signal, the gap rule, or a reconnect and sync) before the run's
final sync. Server RSS is sampled twice a second throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field

from bench.chaos.checker import Checker
from bench.chaos.cluster import Cluster
from bench.chaos.devices import Deadline, Device, GraphQLDevice, send_until_acknowledged

_burst_ids = itertools.count()


@dataclass
class Frozen:
    device: Device
    resyncs_before: int
    connects_before: int
    connection: str = ""  # after the freeze: "open", or "closed by the server" (then it reconnected)
    resyncs: int = 0  # ResyncRequiredEvents handled after the freeze
    reconnects: int = 0
    caught_up: float | None = None  # seconds from resuming to holding every acknowledged message
    history_resets_before: int = 0
    history_resets: int = 0  # gaps over messaging.max_difference (tooLong), filled from history

    @property
    def door(self) -> str:
        return "GraphQL WS" if isinstance(self.device, GraphQLDevice) else "native TCP"


def _connects(device: Device) -> int:
    return device.reconnects if isinstance(device, GraphQLDevice) else device.connects


@dataclass
class SlowConsumers:
    cluster: Cluster
    checker: Checker
    channel: str
    devices: list[Device]
    in_use: dict[str, asyncio.Lock]
    frozen: list[Frozen] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, MiB)
    rss_before: float = 0.0
    freeze_seconds: float = 0.0
    burst_rate: float = 0.0
    burst_sent: int = 0
    overflows_before: float = 0.0
    overflows: float = 0.0  # the servers' privchat_live_overflows_total, over the freeze and recovery

    @property
    def names(self) -> set[str]:
        return {d.name for d in self.devices}

    async def _sample(self) -> None:
        while True:
            self.rss.append((time.monotonic(), self.cluster.rss_mib()))
            await asyncio.sleep(0.5)

    async def freeze(
        self, seconds: float, *, burst: list[Device], burst_rate: float, give_up: Deadline, until_overflow: bool = False
    ) -> None:
        """Freeze `devices` for `seconds` while the `burst` devices (in the same channel)
        send `burst_rate` messages a second on top of the load: a busy conversation. With
        `until_overflow`, they read again as soon as the servers count an overflowed live
        queue per frozen device (`seconds` at most)."""
        self.rss_before = self.cluster.rss_mib()
        self.overflows_before = await self.cluster.metric("privchat_live_overflows_total")
        self.burst_rate = burst_rate
        self._sampler = asyncio.create_task(self._sample())
        frozen_now = asyncio.Event()
        done = asyncio.Event()

        async def thaw_when_due() -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
                if until_overflow:
                    overflows = await self.cluster.metric("privchat_live_overflows_total") - self.overflows_before
                    if overflows >= len(self.devices):
                        break
            done.set()

        async def busy(device: Device) -> None:
            interval = len(burst) / burst_rate
            await frozen_now.wait()
            while not done.is_set():
                began = time.monotonic()
                async with self.in_use[device.name]:
                    cid = f"{device.name}-burst-{next(_burst_ids)}"
                    await send_until_acknowledged(device, self.checker, self.channel, cid, give_up=give_up)
                self.burst_sent += 1
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))

        bursts = [asyncio.create_task(busy(d)) for d in burst] if burst_rate > 0 else []
        timer: asyncio.Task[None] | None = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                for device in self.devices:  # no call of theirs in flight: they are frozen whole
                    await stack.enter_async_context(self.in_use[device.name])
                self.frozen = [Frozen(d, d.resyncs, _connects(d), history_resets_before=d.history_resets) for d in self.devices]
                frozen_now.set()
                began = time.monotonic()
                timer = asyncio.create_task(thaw_when_due())
                outcomes = await asyncio.gather(*(d.freeze(done) for d in self.devices))
                self.freeze_seconds = time.monotonic() - began
        finally:
            done.set()
            await asyncio.gather(*bursts, return_exceptions=True)
            if timer is not None:
                await asyncio.gather(timer, return_exceptions=True)
        for frozen, outcome in zip(self.frozen, outcomes, strict=True):
            frozen.connection = outcome
        self.resumed = time.monotonic()

    async def watch_recovery(self, seconds: float) -> None:
        """Until each device holds every message acknowledged in the channel before it
        resumed (by itself: the run's final sync comes later), and `seconds` in all."""
        target = max(
            (s.acked_pts for s in self.checker.sends.values() if s.channel == self.channel and s.acked_pts),
            default=0,
        )
        deadline = self.resumed + seconds
        pending = list(self.frozen)
        while pending and time.monotonic() < deadline:
            for frozen in list(pending):
                if frozen.device.channel_pts.get(self.channel, 0) >= target:
                    frozen.caught_up = time.monotonic() - self.resumed
                    pending.remove(frozen)
            await asyncio.sleep(0.05)
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        self._sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sampler
        for frozen in self.frozen:
            frozen.resyncs = frozen.device.resyncs - frozen.resyncs_before
            frozen.reconnects = _connects(frozen.device) - frozen.connects_before
            frozen.history_resets = frozen.device.history_resets - frozen.history_resets_before
            if frozen.reconnects:
                frozen.connection = "closed by the server"
        self.overflows = await self.cluster.metric("privchat_live_overflows_total") - self.overflows_before

    def rss_during(self, points: int = 5) -> list[float]:
        """Server RSS (MiB) at `points` evenly spaced moments of the freeze, first to last:
        flat once the buffers are full if nothing grows per unread event."""
        if not self.rss:
            return []
        start = self.rss[0][0]
        marks = [start + self.freeze_seconds * i / (points - 1) for i in range(points)]
        return [min(self.rss, key=lambda sample: abs(sample[0] - mark))[1] for mark in marks]

    @property
    def rss_peak(self) -> float:
        return max((mib for _, mib in self.rss), default=self.rss_before)

    @property
    def rss_after(self) -> float:
        return self.rss[-1][1] if self.rss else self.rss_before

    def describe(self) -> str:
        devices = "; ".join(
            f"{f.door} {f.device.name}: connection {f.connection}, {f.resyncs} resync signal(s), "
            f"{f.reconnects} reconnect(s), {f.history_resets} gap(s) too long (filled from history), caught up "
            + ("NOT within the calm period" if f.caught_up is None else f"{f.caught_up:.1f}s after resuming")
            for f in self.frozen
        )
        return (
            f"{len(self.frozen)} devices read nothing for {self.freeze_seconds:.0f}s while their channel got "
            f"{self.burst_sent} more messages: {devices}; live queues overflowed: {self.overflows:.0f}; server RSS "
            f"{self.rss_before:.0f} MiB before, peak {self.rss_peak:.0f}, {self.rss_after:.0f} after"
        )
