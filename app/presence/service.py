"""Presence and typing: ephemeral signals that are never stored in a channel's log.

A device is online while it holds a live event stream (a GraphQL `events` subscription or
a native gateway session): `EventHub.listen` calls `device_connected` /
`device_disconnected`, the one place every live consumer passes through. A user is
online while any of their devices is. The live state lives in `PresenceState` (Redis
across processes, memory in one); only the last-seen time is stored, so it survives
restarts.

Transitions (a user's first connection anywhere, their last one gone) are announced
once, by the process where they happen, to the users who subscribed and whom the
user's privacy lets see it: one bus message however many watchers. Typing goes to the
channel's other members the same way. Neither carries a pts: a lost one is not healed
by sync, it is simply superseded by the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import store as channel_store
from app.channels.log import ChannelLog
from app.contacts.policy import Facts, SocialPolicy, may_see_presence, needs_mutual_friend
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input
from app.events import EventHub, Listener
from app.periodic import Periodic
from app.presence import store
from app.presence.state import Conn, PresenceState
from app.principal import Principal

log = logging.getLogger(__name__)

TYPING_TTL_MS = 6_000  # a client shows "typing" this long unless it hears again
MAX_BATCH = 200  # user ids per query / subscribe call
MAX_SUBSCRIPTIONS = 1_000  # users one user may watch at a time
SUBSCRIPTION_TTL_MS = 24 * 3600 * 1000  # a watch lapses after this, or when the watcher goes offline
HEARTBEAT_MS = 10_000  # how often a process refreshes its connections (and sweeps)
CONNECTION_TTL_MS = 30_000  # a connection not refreshed for this long counts as gone
SHUTDOWN_GRACE_S = 10.0


class PresenceStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    HIDDEN = "hidden"  # the user's privacy does not let the viewer know (or no such user)


class TypingAction(StrEnum):
    TYPING = "typing"
    RECORDING_AUDIO = "recording_audio"
    UPLOADING_MEDIA = "uploading_media"
    CANCEL = "cancel"  # stopped before the indicator expired


@dataclass(frozen=True, slots=True)
class Presence:
    user_id: int
    status: PresenceStatus
    last_seen_at: int | None  # OFFLINE: when the last device left; ONLINE: now; HIDDEN: None
    device_count: int | None  # only in the user's own presence


@dataclass(frozen=True, slots=True)
class PresenceStats:
    my_devices_online: int
    subscriptions: int
    subscription_limit: int
    # Cluster-wide figures, for administrators only (None for others).
    online_users: int | None = None
    online_devices: int | None = None
    local_connections: int | None = None
    backend: str | None = None


def seen_by_viewer(facts: Facts) -> Facts:
    """Facts computed from the watched user's side, turned to the viewer's side (the
    privacy decision reads them as 'viewer acts, watched user's settings apply')."""
    return Facts(
        same_user=facts.same_user,
        friends=facts.friends,
        mutual_friend=facts.mutual_friend,
        blocked_by_target=facts.blocking_target,
        blocking_target=facts.blocked_by_target,
    )


def presence_message(user_id: int, status: PresenceStatus, at: int) -> dict[str, Any]:
    return {"type": "presence", "userId": user_id, "status": status.value, "at": at, "lastSeenAt": at}


def check_user_ids(user_ids: Sequence[int], *, field: str = "userIds") -> list[int]:
    if not user_ids:
        raise bad_input("give at least one user id", field=field)
    unique = list(dict.fromkeys(user_ids))
    if len(unique) > MAX_BATCH:
        raise bad_input(f"at most {MAX_BATCH} user ids per call", field=field)
    return unique


class _UserLocks:
    """One asyncio lock per user, dropped when unused: a user's transitions are announced
    in the order they happened (within a process)."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, user_id: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(user_id, (asyncio.Lock(), 0))
        self._locks[user_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[user_id]
            if users == 1:
                del self._locks[user_id]
            else:
                self._locks[user_id] = (lock, users - 1)


class PresenceService:
    def __init__(
        self,
        *,
        db: Database,
        hub: EventHub,
        policy: SocialPolicy,
        log: ChannelLog,
        state: PresenceState,
        heartbeat_ms: int = HEARTBEAT_MS,
    ) -> None:
        self.db = db
        self.hub = hub
        self.policy = policy
        self.log = log
        self.state = state
        self.heartbeat_ms = heartbeat_ms
        self._process = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._local: dict[Listener, Conn] = {}
        self._locks = _UserLocks()
        self._pending: set[asyncio.Task[None]] = set()
        self._heartbeat = Periodic("presence-heartbeat", lambda: self.heartbeat_ms / 1000, self.tick)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._heartbeat.start()

    async def stop(self) -> None:
        await self._heartbeat.stop()
        # Connections still open end with this process: say so now rather than letting
        # them lapse (which, in memory, they never would).
        leftovers = list(self._local.values())
        self._local.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(leftovers), SHUTDOWN_GRACE_S)
        await self.state.close()

    async def _drain(self, leftovers: list[Conn]) -> None:
        for conn in leftovers:
            await self._disconnect(conn)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def tick(self) -> None:
        """Refresh this process's connections, then report users whose connections lapsed
        anywhere (a crashed process) as offline."""
        now = now_ms()
        for user_id in await self.state.heartbeat(list(self._local.values()), now):
            async with self._locks.hold(user_id):
                await self._announce(user_id, PresenceStatus.ONLINE, now)
        for user_id, last_alive in await self.state.sweep(now):
            async with self._locks.hold(user_id):
                await self._announce(user_id, PresenceStatus.OFFLINE, last_alive)

    # -- EventHub hooks -------------------------------------------------------------------

    async def device_connected(self, listener: Listener) -> None:
        principal = listener.principal
        conn = Conn(principal.user_id, principal.device_id, f"{self._process}:{next(self._counter)}")
        self._local[listener] = conn
        try:
            async with self._locks.hold(conn.user_id):
                now = now_ms()
                if await self.state.connect(conn, now):
                    await self._announce(conn.user_id, PresenceStatus.ONLINE, now)
        except Exception:
            # Presence is a hint: failing to record it must not cost the device its stream.
            log.exception("presence: recording a connection failed")

    async def device_disconnected(self, listener: Listener) -> None:
        conn = self._local.pop(listener, None)
        if conn is None:
            return
        # Runs to the end even if the stream's task is being cancelled (a closed socket).
        task = asyncio.create_task(self._disconnect(conn))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.shield(task)

    async def _disconnect(self, conn: Conn) -> None:
        try:
            async with self._locks.hold(conn.user_id):
                now = now_ms()
                if await self.state.disconnect(conn, now):
                    await self._announce(conn.user_id, PresenceStatus.OFFLINE, now)
        except Exception:
            log.exception("presence: recording a disconnection failed")

    async def _announce(self, user_id: int, status: PresenceStatus, at: int) -> None:
        try:
            async with self.db.transaction() as tx:
                await store.record_seen(tx.session, user_id, at)
        except Exception:
            log.warning("presence: could not store last-seen of user %s", user_id, exc_info=True)
        if status is PresenceStatus.OFFLINE:
            # A user's watches end with their last connection (they re-subscribe on return).
            await self.state.unsubscribe(user_id, None, at)
        watchers = await self.state.subscribers(user_id, at)
        if not watchers:
            return
        async with self.db.read() as session:
            allowed = await self._viewers_allowed(session, user_id, watchers)
        if allowed:
            await self.hub.deliver(allowed, presence_message(user_id, status, at))

    async def _viewers_allowed(self, session: AsyncSession, user_id: int, viewers: Iterable[int]) -> list[int]:
        """Those of `viewers` whom `user_id`'s privacy lets see their online status."""
        settings = await self.policy.settings(session, user_id)
        facts = await self.policy.facts_many(
            session, user_id, viewers, mutual=needs_mutual_friend(settings.show_online)
        )
        return sorted(v for v, f in facts.items() if may_see_presence(settings, seen_by_viewer(f)))

    # -- typing ---------------------------------------------------------------------------

    async def typing(self, principal: Principal, channel_id: int, action: TypingAction) -> int:
        """Tell the channel's other members; when the indicator expires (ms)."""
        now = now_ms()
        async with self.db.read() as session:
            channel, member = await self.log.membership(session, channel_id, principal.user_id)
            if member.muted_until is not None and member.muted_until > now:
                raise AppError(ErrorCode.FORBIDDEN, "you are muted in this channel")
            others = [u for u in await channel_store.active_member_ids(session, channel_id) if u != principal.user_id]
            if channel.kind == "direct":
                for peer in others:
                    await self.policy.check_may_message(session, principal.user_id, peer)
        expires_at = now if action is TypingAction.CANCEL else now + TYPING_TTL_MS
        await self.hub.deliver(
            others,
            {
                "type": "typing",
                "channelId": channel_id,
                "userId": principal.user_id,
                "action": action.value,
                "at": now,
                "expiresAt": expires_at,
            },
        )
        return expires_at

    # -- queries --------------------------------------------------------------------------

    async def query(self, principal: Principal, user_ids: Sequence[int]) -> list[Presence]:
        ids = check_user_ids(user_ids)
        viewer = principal.user_id
        async with self.db.read() as session:
            existing = await store.active_users(session, ids)
            visible = await self.policy.presence_visible_to(session, viewer, existing)
            last_seen = await store.last_seen(session, visible)
        now = now_ms()
        online = await self.state.online_devices(sorted(visible), now)
        out = []
        for user_id in ids:
            if user_id not in visible:
                out.append(Presence(user_id, PresenceStatus.HIDDEN, None, None))
                continue
            devices = online.get(user_id, 0)
            out.append(
                Presence(
                    user_id=user_id,
                    status=PresenceStatus.ONLINE if devices else PresenceStatus.OFFLINE,
                    last_seen_at=now if devices else last_seen.get(user_id),
                    device_count=devices if user_id == viewer else None,
                )
            )
        return out

    async def subscribe(self, principal: Principal, user_ids: Sequence[int]) -> tuple[list[Presence], int]:
        """Watch users' online/offline transitions; their presence now, and how many users
        the caller watches. Watching yourself is pointless and ignored."""
        ids = check_user_ids(user_ids)
        targets = [u for u in ids if u != principal.user_id]
        now = now_ms()
        total = await self.state.subscribe(principal.user_id, targets, now, limit=MAX_SUBSCRIPTIONS)
        if total is None:
            raise bad_input(f"at most {MAX_SUBSCRIPTIONS} users may be watched at once", field="userIds")
        return await self.query(principal, ids), total

    async def unsubscribe(self, principal: Principal, user_ids: Sequence[int] | None) -> int:
        if user_ids is not None:
            user_ids = check_user_ids(user_ids)
        return await self.state.unsubscribe(principal.user_id, user_ids, now_ms())

    async def stats(self, principal: Principal) -> PresenceStats:
        now = now_ms()
        mine = await self.state.online_devices([principal.user_id], now)
        subscriptions = await self.state.subscription_count(principal.user_id, now)
        base = PresenceStats(
            my_devices_online=mine.get(principal.user_id, 0),
            subscriptions=subscriptions,
            subscription_limit=MAX_SUBSCRIPTIONS,
        )
        if not principal.is_admin:
            return base
        counts = await self.state.counts(now)
        return PresenceStats(
            my_devices_online=base.my_devices_online,
            subscriptions=base.subscriptions,
            subscription_limit=base.subscription_limit,
            online_users=counts.users,
            online_devices=counts.devices,
            local_connections=len(self._local),
            backend=self.state.backend,
        )

    async def online_counts(self) -> tuple[int, int]:
        """(users, devices) online on every process of the service."""
        counts = await self.state.counts(now_ms())
        return counts.users, counts.devices

    def local_connections(self) -> int:
        return len(self._local)


def presence_state(redis_url: str | None, *, key_prefix: str) -> PresenceState:
    """Redis when configured (several processes agree), else this process's memory."""
    if redis_url:
        from app.presence.redis_state import RedisPresenceState

        return RedisPresenceState(
            redis_url, key_prefix=key_prefix, ttl_ms=CONNECTION_TTL_MS, subscription_ttl_ms=SUBSCRIPTION_TTL_MS
        )
    from app.presence.state import MemoryPresenceState

    return MemoryPresenceState(subscription_ttl_ms=SUBSCRIPTION_TTL_MS)
