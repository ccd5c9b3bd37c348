"""admin/stats/overview: users, activity, messages per day, groups, who is online, storage."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from app.admin import store
from app.db import Database
from app.db.types import now_ms
from app.errors import bad_input
from app.files.lifecycle import FileLifecycle
from app.metrics import Metrics
from app.presence.service import PresenceService

DAY_MS = 86_400_000
MAX_DAYS = 90


@dataclass(frozen=True, slots=True)
class DayCount:
    day_start_ms: int  # UTC midnight
    messages: int


@dataclass(frozen=True, slots=True)
class Overview:
    users: int
    disabled_users: int
    deleted_users: int
    active_1d: int
    active_7d: int
    active_30d: int
    groups: int
    messages_per_day: list[DayCount]  # oldest first, today last (so far)
    online_users: int  # every process (presence state)
    online_devices: int
    process: str  # host:pid of the process that answered
    connections: dict[str, int]  # this process, by transport
    storage_bytes: int
    storage_files: int


class AdminStats:
    def __init__(self, *, db: Database, metrics: Metrics, presence: PresenceService, files: FileLifecycle) -> None:
        self.db = db
        self.metrics = metrics
        self.presence = presence
        self.files = files

    async def overview(self, *, days: int) -> Overview:
        if not 1 <= days <= MAX_DAYS:
            raise bad_input(f"days must be 1..{MAX_DAYS}", field="days")
        now = now_ms()
        today = now - now % DAY_MS
        async with self.db.read() as session:
            users, disabled, deleted = await store.count_users(session)
            active = [await store.count_active_users(session, now - n * DAY_MS) for n in (1, 7, 30)]
            groups = await store.count_groups(session)
            per_day = [
                DayCount(start, await store.count_messages(session, start, start + DAY_MS))
                for start in (today - n * DAY_MS for n in range(days - 1, -1, -1))
            ]
        online_users, online_devices = await self.presence.online_counts()
        report = await self.files.report(limit=1)
        return Overview(
            users=users,
            disabled_users=disabled,
            deleted_users=deleted,
            active_1d=active[0],
            active_7d=active[1],
            active_30d=active[2],
            groups=groups,
            messages_per_day=per_day,
            online_users=online_users,
            online_devices=online_devices,
            process=f"{socket.gethostname()}:{os.getpid()}",
            connections=self._connections(),
            storage_bytes=sum(s.bytes for s in report.sources),
            storage_files=sum(s.blobs for s in report.sources),
        )

    def _connections(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for family in self.metrics.connections_current.collect():
            for sample in family.samples:
                out[sample.labels["transport"]] = int(sample.value)
        return out
