"""The independent checker: what senders had acknowledged against what devices applied.

Pure (no I/O): the load records every send attempt and every event a device applies
(live or by sync, in the order applied); `verdict()` proves, per channel and device,
every acknowledged message present exactly once, at its acknowledged pts, in pts
order, with no pts gap; an unacknowledged send present at most once. It trusts
nothing the clients concluded themselves.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Send:
    client_msg_id: str
    channel: str
    device: str  # the sending device
    started: float
    acked_pts: int | None = None
    acked_at: float | None = None
    errors: list[tuple[float, str]] = field(default_factory=list)  # (when, code) of failed attempts


@dataclass(frozen=True)
class Applied:
    channel: str
    pts: int
    client_msg_id: str | None  # None: a channel event that is not a message
    live: bool
    at: float


@dataclass
class Verdict:
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    unacknowledged_stored: int = 0  # a send whose answer was lost but that was stored (once)
    delivered_live: int = 0  # (acknowledged message, receiving device) pairs first applied live
    recovered_by_sync: int = 0  # ... first applied through sync
    lost: int = 0  # (acknowledged message, device) pairs missing
    duplicated: int = 0  # (message, device) pairs applied more than once
    reordered: int = 0  # events applied after a higher pts, or at a pts other than acknowledged
    gaps: int = 0  # pts missing from a device's channel log
    read_state_mismatches: int = 0  # filled by the run: read marks/unread counts against what was applied
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.reordered or self.gaps or self.read_state_mismatches)


class Checker:
    def __init__(self) -> None:
        self.sends: dict[str, Send] = {}
        self.applied: dict[str, list[Applied]] = defaultdict(list)  # device -> in the order applied
        self.members: dict[str, set[str]] = defaultdict(set)  # channel -> devices

    def member(self, channel: str, device: str) -> None:
        self.members[channel].add(device)

    def send(self, send: Send) -> Send:
        self.sends[send.client_msg_id] = send
        return send

    def apply(self, device: str, event: Applied) -> None:
        self.applied[device].append(event)

    def verdict(self) -> Verdict:
        v = Verdict()
        v.sent = len(self.sends)
        acked = {s.client_msg_id: s for s in self.sends.values() if s.acked_pts is not None}
        v.acknowledged = len(acked)
        v.unacknowledged = v.sent - v.acknowledged
        stored_anywhere: set[str] = set()
        for channel, devices in sorted(self.members.items()):
            for device in sorted(devices):
                log = [a for a in self.applied.get(device, []) if a.channel == channel]
                self._check_order(v, channel, device, log)
                seen = Counter(a.client_msg_id for a in log if a.client_msg_id is not None)
                first: dict[str, Applied] = {}
                for a in log:
                    if a.client_msg_id is not None and a.client_msg_id not in first:
                        first[a.client_msg_id] = a
                for cid, count in seen.items():
                    stored_anywhere.add(cid)
                    if count > 1:
                        v.duplicated += 1
                        v.problems.append(f"{device}: {cid} applied {count} times in {channel}")
                for cid, send in acked.items():
                    if send.channel != channel:
                        continue
                    got = first.get(cid)
                    if got is None:
                        v.lost += 1
                        v.problems.append(f"{device}: acknowledged {cid} (pts {send.acked_pts}) missing in {channel}")
                        continue
                    if got.pts != send.acked_pts:
                        v.reordered += 1
                        v.problems.append(f"{device}: {cid} at pts {got.pts}, acknowledged at {send.acked_pts}")
                    if device != send.device:
                        if got.live:
                            v.delivered_live += 1
                        else:
                            v.recovered_by_sync += 1
        v.unacknowledged_stored = sum(
            1 for cid, s in self.sends.items() if s.acked_pts is None and cid in stored_anywhere
        )
        return v

    @staticmethod
    def _check_order(v: Verdict, channel: str, device: str, log: list[Applied]) -> None:
        highest = 0
        seen_pts: set[int] = set()
        for a in log:
            if a.pts in seen_pts:
                if a.client_msg_id is None:  # a message's duplicate is counted by its id
                    v.duplicated += 1
                    v.problems.append(f"{device}: pts {a.pts} applied twice in {channel}")
                continue
            if a.pts < highest:
                v.reordered += 1
                v.problems.append(f"{device}: pts {a.pts} applied after {highest} in {channel}")
            seen_pts.add(a.pts)
            highest = max(highest, a.pts)
        missing = [p for p in range(1, highest + 1) if p not in seen_pts]
        if missing:
            v.gaps += len(missing)
            v.problems.append(f"{device}: pts {missing[:5]}{'...' if len(missing) > 5 else ''} missing in {channel}")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Window:
    name: str
    start: float
    end: float


def latencies(
    checker: Checker, start: float, end: float, exclude: set[str] | frozenset[str] = frozenset()
) -> tuple[list[float], list[float]]:
    """(ack latencies, live delivery latencies) of sends started in [start, end), leaving
    out deliveries to the devices in `exclude`."""
    acks: list[float] = []
    deliveries: list[float] = []
    by_id = {s.client_msg_id: s for s in checker.sends.values() if start <= s.started < end}
    for s in by_id.values():
        if s.acked_at is not None:
            acks.append(s.acked_at - s.started)
    for device, log in checker.applied.items():
        for a in log:
            sent = by_id.get(a.client_msg_id or "")
            if sent is not None and a.live and device != sent.device and device not in exclude:
                deliveries.append(a.at - sent.started)
    return acks, deliveries


def errors_between(checker: Checker, start: float, end: float) -> Counter[str]:
    return Counter(code for s in checker.sends.values() for at, code in s.errors if start <= at < end)


def recovery_seconds(checker: Checker, fault_end: float, horizon: float) -> float:
    """From the end of a fault to the last failed send attempt after it (0: none failed)."""
    last = max((at for s in checker.sends.values() for at, _ in s.errors if fault_end <= at < horizon), default=None)
    return 0.0 if last is None else last - fault_end
