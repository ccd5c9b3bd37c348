"""A chaos run: load on both doors, faults one after another, final sync, verdict, table."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field

from bench.chaos.checker import Checker, Verdict, Window, errors_between, latencies, percentile, recovery_seconds
from bench.chaos.cluster import Cluster
from bench.chaos.devices import Deadline, Device, GraphQLDevice, NativeDevice, send_until_acknowledged, slow_link
from bench.chaos.slow import SlowConsumers
from tests.support.sync_client import SyncClient

PASSWORD = "chaos-password-1"


@dataclass
class Plan:
    users: int = 8  # in pairs: each pair shares a direct channel
    rate: float = 30.0  # messages per second, all senders together
    faults: list[str] = field(default_factory=lambda: ["redis"])
    fault_seconds: float = 10.0
    calm_seconds: float = 10.0  # load before the first fault, between faults and after the last
    settle_seconds: float = 20.0  # how long unacknowledged sends keep being retried at the end
    slow_seconds: float = 60.0  # slow-consumer: how long the devices read nothing
    # slow-consumer: messages a second the frozen devices' channel gets on top of the load
    slow_burst: float = 25.0
    slow_until_overflow: bool = False  # slow-consumer: read again once both queues overflowed (a test)


@dataclass
class FaultResult:
    window: Window
    description: str
    phases: dict[str, tuple[float | None, float | None, float | None, float | None]]  # ack p50/p99, live p50/p99
    errors: dict[str, int]
    recovery: float


@dataclass
class Outcome:
    verdict: Verdict
    faults: list[FaultResult]
    reconnects: int
    seconds: float
    slow_consumers: list[SlowConsumers] = field(default_factory=list)


async def make_devices(
    cluster: Cluster, checker: Checker, users: int, slow_links: frozenset[tuple[int, str]] = frozenset()
) -> list[tuple[Device, Device]]:
    """Per user a GraphQL device ("g") and a native one ("n"); those named in `slow_links`
    as (user index, device) are on a slow link (`devices.slow_link`) from the start."""
    suffix = uuid.uuid4().hex[:6]
    servers = cluster.graphql_servers
    pairs: list[tuple[Device, Device]] = []
    for i in range(users):
        name = f"u{i}{suffix}"
        account = SyncClient(servers[i % len(servers)], name, PASSWORD, "setup")
        await account.register()
        await account.close()
        gql = GraphQLDevice(servers, name, PASSWORD, "g", checker)
        native = NativeDevice(cluster.native_endpoints, name, "n", checker)
        for device in (gql, native):
            if (i, device.device_id) in slow_links:
                slow_link(device)
        await gql.login()
        await native.login(name, PASSWORD)
        pairs.append((gql, native))
    return pairs


async def run(cluster: Cluster, plan: Plan) -> Outcome:
    checker = Checker()
    # The devices the slow-consumer fault freezes (below) are on a slow link.
    slow_links = frozenset({(0, "g"), (1, "n")}) if "slow-consumer" in plan.faults else frozenset()
    users = await make_devices(cluster, checker, plan.users, slow_links)
    channels: list[tuple[str, list[Device]]] = []
    for a, b in zip(users[::2], users[1::2], strict=True):
        assert isinstance(a[0], GraphQLDevice) and isinstance(b[0], GraphQLDevice)
        channel = await a[0].open_direct(b[0].user_id or "")
        members = [*a, *b]
        for device in members:
            checker.member(channel, device.name)
        channels.append((channel, members))
    for gql, native in users:
        assert isinstance(gql, GraphQLDevice) and isinstance(native, NativeDevice)
        await gql.go_live()
        await native.start()

    started = time.monotonic()
    stop_sending = asyncio.Event()
    senders = [(channel, device) for channel, members in channels for device in members]
    interval = len(senders) / plan.rate
    counter = itertools.count()
    give_up = Deadline()
    slow_consumers: list[SlowConsumers] = []

    # A device sends one message at a time; a frozen device (slow-consumer) sends nothing.
    in_use = {device.name: asyncio.Lock() for _, members in channels for device in members}

    async def sender(channel: str, device: Device) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        while not stop_sending.is_set():
            cid = f"{device.name}-{next(counter)}"
            began = time.monotonic()
            # One send at a time per device (a client waits for its answer), at the rate asked.
            async with in_use[device.name]:
                await send_until_acknowledged(device, checker, channel, cid, give_up=give_up)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))

    load = [asyncio.create_task(sender(c, d)) for c, d in senders]
    results: list[FaultResult] = []
    await asyncio.sleep(plan.calm_seconds)
    for name in plan.faults:
        begin = time.monotonic()
        if name == "slow-consumer":
            # A device on each door, both in the first channel, reads nothing meanwhile.
            channel, members = channels[0]
            frozen: list[Device] = [users[0][0], users[1][1]]
            slow = SlowConsumers(cluster, checker, channel, frozen, in_use)
            busy = [d for d in members if d not in frozen]
            await slow.freeze(
                plan.slow_seconds,
                burst=busy,
                burst_rate=plan.slow_burst,
                give_up=give_up,
                until_overflow=plan.slow_until_overflow,
            )
            end = time.monotonic()
            await slow.watch_recovery(plan.calm_seconds)
            slow_consumers.append(slow)
            description = slow.describe()
        else:
            description = await cluster.fault(name)(plan.fault_seconds)
            end = time.monotonic()
            await asyncio.sleep(plan.calm_seconds)
        results.append(FaultResult(Window(name, begin, end), description, {}, {}, 0.0))
    stop_sending.set()
    # Unacknowledged sends keep being retried (by clientMsgId) for a while, then abandoned.
    give_up.at = time.monotonic() + plan.settle_seconds
    await asyncio.gather(*load)
    finished = time.monotonic()
    # Every device syncs once more: what it has now is what the checker judges.
    for gql, native in users:
        for device in (gql, native):
            for _ in range(20):
                try:
                    await device.sync()
                    break
                except Exception:
                    await asyncio.sleep(0.5)
    read_problems = await check_read_state(users, channels)
    reconnects = sum(d.reconnects if isinstance(d, GraphQLDevice) else max(0, d.connects - 1) for u in users for d in u)
    for gql, native in users:
        await gql.stop()
        await native.stop()

    for result in results:
        w = result.window
        # The frozen devices' own late deliveries are the fault, not its effect on the others.
        quiet: set[str] = set().union(*(s.names for s in slow_consumers)) if w.name == "slow-consumer" else set()
        phases = {
            "before": _phase(checker, w.start - plan.calm_seconds / 2, w.start, quiet),
            "during": _phase(checker, w.start, w.end, quiet),
            "after": _phase(checker, w.end + min(5.0, plan.calm_seconds / 2), w.end + plan.calm_seconds, quiet),
        }
        result.phases = phases
        result.errors = dict(errors_between(checker, w.start, w.end + plan.calm_seconds))
        result.recovery = recovery_seconds(checker, w.end, w.end + plan.calm_seconds)
    verdict = checker.verdict()
    verdict.read_state_mismatches = len(read_problems)
    verdict.problems.extend(read_problems)
    return Outcome(verdict, results, reconnects, finished - started, slow_consumers)


async def check_read_state(users: list[tuple[Device, Device]], channels: list[tuple[str, list[Device]]]) -> list[str]:
    """Read state consistent with what was applied: each user marks its channel read up to
    the pts its GraphQL device reached; the server then counts 0 unread for that user, and
    the user's other device (native) sees the same read pts."""
    problems: list[str] = []
    channel_of = {d.name: c for c, members in channels for d in members}
    for gql, native in users:
        assert isinstance(gql, GraphQLDevice) and isinstance(native, NativeDevice)
        channel = channel_of[gql.name]
        reached = gql.channel_pts.get(channel, 0)
        try:
            marked = await gql.gql(
                "mutation($c: ID!, $p: Int!) { messageStatusRead(input: {channelId: $c, pts: $p}) { readPts unread } }",
                {"c": channel, "p": reached},
            )
            counted = await gql.gql(
                "query($c: ID!) { messageStatusCount(input: {channelIds: [$c]}) { channels { channelId unread } } }",
                {"c": channel},
            )
            listing = await native.call("channel/list", {"limit": 50})
        except Exception as exc:
            problems.append(f"{gql.name}: read state could not be checked: {exc!r}")
            continue
        read = marked["messageStatusRead"]
        unread = {row["channelId"]: row["unread"] for row in counted["messageStatusCount"]["channels"]}
        seen_by_native = {str(c["channel"]["id"]): c["readPts"] for c in listing["conversations"]}
        if read["readPts"] != reached or read["unread"] != 0 or unread.get(channel, 0) != 0:
            problems.append(f"{gql.name}: read up to {reached} -> {read}, unread counted {unread.get(channel)}")
        if seen_by_native.get(channel) != reached:
            problems.append(f"{native.name}: sees read pts {seen_by_native.get(channel)}, expected {reached}")
    return problems


def _phase(
    checker: Checker, start: float, end: float, exclude: set[str]
) -> tuple[float | None, float | None, float | None, float | None]:
    acks, live = latencies(checker, start, end, exclude)
    return percentile(acks, 0.5), percentile(acks, 0.99), percentile(live, 0.5), percentile(live, 0.99)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def table(outcome: Outcome, plan: Plan, cluster: Cluster) -> str:
    v = outcome.verdict
    lines = [
        f"chaos: {cluster.processes} processes x {cluster.workers} workers, PostgreSQL (through a cuttable proxy) + "
        f"own Redis; {plan.users} users x 2 devices (GraphQL WS + native TCP); {plan.rate:g} msg/s; "
        f"{outcome.seconds:.0f}s of load",
        *[f"servers: {k.removeprefix('PRIVCHAT_').lower().replace('__', '.')} = {v}" for k, v in sorted(cluster.extra_env.items())],
        "",
        "| sent | acknowledged | unacked (stored once) | delivered live | recovered by sync | lost | duplicated "
        "| reordered | pts gaps | read state wrong | reconnects |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {v.sent} | {v.acknowledged} | {v.unacknowledged} ({v.unacknowledged_stored}) | {v.delivered_live} | "
        f"{v.recovered_by_sync} | {v.lost} | {v.duplicated} | {v.reordered} | {v.gaps} | {v.read_state_mismatches} "
        f"| {outcome.reconnects} |",
        "",
        "| fault | ack p50/p99 ms before | during | after | live p50/p99 ms before | during | after | errors by code | recovery s |",
        "|---|---|---|---|---|---|---|---|---:|",
    ]
    for r in outcome.faults:
        ack = [f"{_ms(r.phases[p][0])}/{_ms(r.phases[p][1])}" for p in ("before", "during", "after")]
        live = [f"{_ms(r.phases[p][2])}/{_ms(r.phases[p][3])}" for p in ("before", "during", "after")]
        errors = ", ".join(f"{k} {n}" for k, n in sorted(r.errors.items())) or "none"
        lines.append(
            f"| {r.window.name} ({r.description}) | {' | '.join(ack)} | {' | '.join(live)} | {errors} | {r.recovery:.1f} |"
        )
    for slow in outcome.slow_consumers:
        lines += [
            "",
            f"slow consumers ({slow.freeze_seconds:.0f}s reading nothing; server RSS {slow.rss_before:.1f} MiB before, "
            f"peak {slow.rss_peak:.1f}, {slow.rss_after:.1f} after; their channel got {slow.burst_sent} extra "
            f"messages; live queues that overflowed on the servers: {slow.overflows:.0f}; RSS over the freeze: "
            + " -> ".join(f"{mib:.1f}" for mib in slow.rss_during())
            + " MiB):",
            "",
            "| device | door | connection after | resync signals | reconnects | gaps too long (from history) "
            "| caught up by itself, s after resuming |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {f.device.name} | {f.door} | {f.connection} | {f.resyncs} | {f.reconnects} | {f.history_resets} | "
            f"{'-' if f.caught_up is None else f'{f.caught_up:.1f}'} |"
            for f in slow.frozen
        ]
    lines.append("")
    lines.append(
        "verdict: "
        + ("OK: nothing acknowledged lost, duplicated or reordered; read state consistent" if v.ok else "FAILED")
    )
    lines.extend(f"  {p}" for p in v.problems[:30])
    return "\n".join(lines)
