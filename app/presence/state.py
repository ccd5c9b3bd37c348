"""Live presence state: which device connections are up, and who watches whom.

Two implementations with one contract. `MemoryPresenceState` serves a single process.
`RedisPresenceState` (app/presence/redis_state.py) is shared by every process of a
cluster: connections carry an expiry that their process keeps pushing forward with
heartbeats, so the connections of a crashed process lapse and a sweep (run by every
process, atomic in Redis) reports their users offline exactly once.

Every method that changes state reports the *transitions* it caused (a user's first
live connection: online; their last one gone: offline), so that the caller announces
each transition once, wherever it happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Conn:
    """One live device connection (a GraphQL `events` subscription or a native session)."""

    user_id: int
    device_id: str
    conn_id: str  # unique in the cluster: "<process id>:<counter>"


@dataclass(frozen=True, slots=True)
class Counts:
    users: int
    devices: int


class PresenceState(Protocol):
    backend: str

    async def connect(self, conn: Conn, now: int) -> bool:
        """Record a live connection; True if its user had none (came online)."""
        ...

    async def disconnect(self, conn: Conn, now: int) -> bool:
        """Forget a connection; True if it was its user's last one (went offline)."""
        ...

    async def heartbeat(self, conns: Sequence[Conn], now: int) -> set[int]:
        """Keep this process's connections alive; the users that were counted offline
        meanwhile (a pause longer than the expiry) and are online again."""
        ...

    async def sweep(self, now: int) -> list[tuple[int, int]]:
        """(user, last time alive) for users whose every connection lapsed."""
        ...

    async def online_devices(self, user_ids: Sequence[int], now: int) -> dict[int, int]:
        """Online users among `user_ids` -> how many distinct devices they have online."""
        ...

    async def counts(self, now: int) -> Counts: ...

    async def subscribe(self, subscriber: int, targets: Sequence[int], now: int, *, limit: int) -> int | None:
        """Watch `targets`; the subscriber's total afterwards, or None (nothing changed)
        if it would exceed `limit`."""
        ...

    async def unsubscribe(self, subscriber: int, targets: Sequence[int] | None, now: int) -> int:
        """Stop watching `targets` (None: everyone); the total afterwards."""
        ...

    async def subscription_count(self, subscriber: int, now: int) -> int: ...

    async def subscribers(self, target: int, now: int) -> set[int]: ...

    async def close(self) -> None: ...


@dataclass
class _Watch:
    expires: dict[int, int] = field(default_factory=dict)  # other user -> expiry (ms)


class MemoryPresenceState:
    """One process is the whole cluster: its connections end with it, so nothing expires
    but subscriptions (which outlive connections by at most `subscription_ttl_ms`)."""

    backend = "memory"

    def __init__(self, *, subscription_ttl_ms: int) -> None:
        self.subscription_ttl_ms = subscription_ttl_ms
        self._conns: dict[int, dict[str, str]] = {}  # user -> conn id -> device id
        self._watching: dict[int, _Watch] = {}  # subscriber -> targets
        self._watchers: dict[int, _Watch] = {}  # target -> subscribers

    async def connect(self, conn: Conn, now: int) -> bool:
        conns = self._conns.setdefault(conn.user_id, {})
        came_online = not conns
        conns[conn.conn_id] = conn.device_id
        return came_online

    async def disconnect(self, conn: Conn, now: int) -> bool:
        conns = self._conns.get(conn.user_id)
        if conns is None or conns.pop(conn.conn_id, None) is None:
            return False
        if conns:
            return False
        del self._conns[conn.user_id]
        return True

    async def heartbeat(self, conns: Sequence[Conn], now: int) -> set[int]:
        return set()

    async def sweep(self, now: int) -> list[tuple[int, int]]:
        for index in (self._watching, self._watchers):
            for key in list(index):
                watch = index[key]
                watch.expires = {k: at for k, at in watch.expires.items() if at > now}
                if not watch.expires:
                    del index[key]
        return []

    async def online_devices(self, user_ids: Sequence[int], now: int) -> dict[int, int]:
        return {u: len(set(self._conns[u].values())) for u in user_ids if self._conns.get(u)}

    async def counts(self, now: int) -> Counts:
        return Counts(users=len(self._conns), devices=sum(len(set(conns.values())) for conns in self._conns.values()))

    def _live(self, index: dict[int, _Watch], key: int, now: int) -> dict[int, int]:
        watch = index.get(key)
        if watch is None:
            return {}
        watch.expires = {k: at for k, at in watch.expires.items() if at > now}
        return watch.expires

    async def subscribe(self, subscriber: int, targets: Sequence[int], now: int, *, limit: int) -> int | None:
        current = self._live(self._watching, subscriber, now)
        if len(current.keys() | set(targets)) > limit:
            return None
        expiry = now + self.subscription_ttl_ms
        watching = self._watching.setdefault(subscriber, _Watch())
        for target in targets:
            watching.expires[target] = expiry
            self._watchers.setdefault(target, _Watch()).expires[subscriber] = expiry
        return len(watching.expires)

    async def unsubscribe(self, subscriber: int, targets: Sequence[int] | None, now: int) -> int:
        watching = self._watching.get(subscriber)
        if watching is None:
            return 0
        for target in list(watching.expires) if targets is None else targets:
            watching.expires.pop(target, None)
            watchers = self._watchers.get(target)
            if watchers is not None:
                watchers.expires.pop(subscriber, None)
                if not watchers.expires:
                    del self._watchers[target]
        if not watching.expires:
            del self._watching[subscriber]
        return len(self._live(self._watching, subscriber, now))

    async def subscription_count(self, subscriber: int, now: int) -> int:
        return len(self._live(self._watching, subscriber, now))

    async def subscribers(self, target: int, now: int) -> set[int]:
        return set(self._live(self._watchers, target, now))

    async def close(self) -> None:
        return None
