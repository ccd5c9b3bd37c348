"""Presence state in Redis, shared by every process of a cluster.

Keys (under "<key prefix>:presence"):

  c:<user>      ZSET "<conn id>|<device id>" -> expiry (ms): the user's live connections
  users         ZSET <user> -> latest expiry among the user's connections
  devices       ZSET "<user>|<device id>" -> latest expiry among that device's connections
  s:<user>      ZSET <target> -> expiry: whom the user watches
  w:<user>      ZSET <subscriber> -> expiry: who watches the user

Each change is one Lua script, so two processes never both see "first connection" or
"last connection": a transition is reported exactly once in the cluster. A connection's
expiry is pushed forward by its process's heartbeats; when a process dies its
connections lapse and whichever process sweeps first reports those users offline.
Every key also carries a TTL (the cluster-wide sets a long one), so a cluster that
stops leaves nothing behind.

Expiries use each process's clock: keep clocks in sync (NTP) well within the TTL.
Scripts build per-user key names from a prefix, which suits one Redis server (not a
Redis Cluster).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.presence.state import Conn, Counts
from app.redis_client import redis_client

_CONNECT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[3], 'GT', ARGV[2], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PEXPIRE', KEYS[3], ARGV[7])
return before
"""

_DISCONNECT = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local rest = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local umax = false
local dmax = false
for i = 1, #rest, 2 do
  local score = tonumber(rest[i + 1])
  if not umax or score > umax then umax = score end
  local sep = string.find(rest[i], '|', 1, true)
  if string.sub(rest[i], sep + 1) == ARGV[5] and (not dmax or score > dmax) then dmax = score end
end
if umax then redis.call('ZADD', KEYS[2], umax, ARGV[3]) else redis.call('ZREM', KEYS[2], ARGV[3]) end
if dmax then redis.call('ZADD', KEYS[3], dmax, ARGV[4]) else redis.call('ZREM', KEYS[3], ARGV[4]) end
if removed == 1 and not umax then return 1 end
return 0
"""

_HEARTBEAT = """
local revived = {}
for i = 6, #ARGV, 3 do
  local ukey = ARGV[3] .. ARGV[i]
  redis.call('ZREMRANGEBYSCORE', ukey, '-inf', ARGV[1])
  local before = redis.call('ZCARD', ukey)
  redis.call('ZADD', ukey, ARGV[2], ARGV[i + 1])
  redis.call('PEXPIRE', ukey, ARGV[4])
  redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[i])
  redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[i + 2])
  if before == 0 then table.insert(revived, ARGV[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return revived
"""

_SWEEP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local gone = {}
for i = 1, #due, 2 do
  local ukey = ARGV[2] .. due[i]
  redis.call('ZREMRANGEBYSCORE', ukey, '-inf', ARGV[1])
  local top = redis.call('ZRANGE', ukey, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', KEYS[1], due[i])
    redis.call('DEL', ukey)
    table.insert(gone, due[i])
    table.insert(gone, due[i + 1])
  else
    redis.call('ZADD', KEYS[1], top[2], due[i])
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
return gone
"""

_SUBSCRIBE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local new = 0
for i = 7, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then new = new + 1 end
end
if redis.call('ZCARD', KEYS[1]) + new > tonumber(ARGV[3]) then return -1 end
for i = 7, #ARGV do
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
  local watchers = ARGV[4] .. ARGV[i]
  redis.call('ZADD', watchers, ARGV[2], ARGV[5])
  redis.call('PEXPIRE', watchers, ARGV[6])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return redis.call('ZCARD', KEYS[1])
"""

_UNSUBSCRIBE = """
local targets = {}
if ARGV[4] == 'all' then
  targets = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  for i = 5, #ARGV do table.insert(targets, ARGV[i]) end
end
for _, target in ipairs(targets) do
  redis.call('ZREM', KEYS[1], target)
  redis.call('ZREM', ARGV[2] .. target, ARGV[3])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
"""

HEARTBEAT_BATCH = 500
# The cluster-wide sets outlive any connection by far (a sweep must still find the users of
# a crashed process), and vanish only once no process has refreshed them for this long.
GLOBAL_KEY_TTL_MS = 24 * 3600 * 1000
SWEEP_BATCH = 500


class RedisPresenceState:
    backend = "redis"

    def __init__(self, url: str, *, key_prefix: str, ttl_ms: int, subscription_ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self.subscription_ttl_ms = subscription_ttl_ms
        self._redis = redis_client(url, decode_responses=True)
        p = f"{key_prefix}:presence:"
        self._conns_prefix = p + "c:"
        self._users = p + "users"
        self._devices = p + "devices"
        self._watching_prefix = p + "s:"
        self._watchers_prefix = p + "w:"
        self._connect = self._redis.register_script(_CONNECT)
        self._disconnect = self._redis.register_script(_DISCONNECT)
        self._heartbeat = self._redis.register_script(_HEARTBEAT)
        self._sweep = self._redis.register_script(_SWEEP)
        self._subscribe = self._redis.register_script(_SUBSCRIBE)
        self._unsubscribe = self._redis.register_script(_UNSUBSCRIBE)

    @staticmethod
    def _member(conn: Conn) -> str:
        return f"{conn.conn_id}|{conn.device_id}"

    @staticmethod
    def _device(conn: Conn) -> str:
        return f"{conn.user_id}|{conn.device_id}"

    async def connect(self, conn: Conn, now: int) -> bool:
        before = await self._connect(
            keys=[self._conns_prefix + str(conn.user_id), self._users, self._devices],
            args=[
                self._member(conn),
                now + self.ttl_ms,
                now,
                conn.user_id,
                self._device(conn),
                self.ttl_ms,
                GLOBAL_KEY_TTL_MS,
            ],
        )
        return int(before) == 0

    async def disconnect(self, conn: Conn, now: int) -> bool:
        went = await self._disconnect(
            keys=[self._conns_prefix + str(conn.user_id), self._users, self._devices],
            args=[self._member(conn), now, conn.user_id, self._device(conn), conn.device_id],
        )
        return int(went) == 1

    async def heartbeat(self, conns: Sequence[Conn], now: int) -> set[int]:
        revived: set[int] = set()
        for start in range(0, len(conns), HEARTBEAT_BATCH):
            args: list[str | int] = [now, now + self.ttl_ms, self._conns_prefix, self.ttl_ms, GLOBAL_KEY_TTL_MS]
            for conn in conns[start : start + HEARTBEAT_BATCH]:
                args += [conn.user_id, self._member(conn), self._device(conn)]
            result = await self._heartbeat(keys=[self._users, self._devices], args=args)
            revived.update(int(u) for u in result)
        return revived

    async def sweep(self, now: int) -> list[tuple[int, int]]:
        gone: list[tuple[int, int]] = []
        while True:
            result = await self._sweep(keys=[self._users, self._devices], args=[now, self._conns_prefix, SWEEP_BATCH])
            pairs = [(int(result[i]), int(float(result[i + 1])) - self.ttl_ms) for i in range(0, len(result), 2)]
            gone += pairs
            if len(pairs) < SWEEP_BATCH:
                return gone

    async def online_devices(self, user_ids: Sequence[int], now: int) -> dict[int, int]:
        if not user_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zrangebyscore(self._conns_prefix + str(user_id), f"({now}", "+inf")
            results = await pipe.execute()
        out: dict[int, int] = {}
        for user_id, members in zip(user_ids, results, strict=True):
            devices = {m.split("|", 1)[1] for m in members if "|" in m}
            if devices:
                out[user_id] = len(devices)
        return out

    async def counts(self, now: int) -> Counts:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcount(self._users, f"({now}", "+inf")
            pipe.zcount(self._devices, f"({now}", "+inf")
            users, devices = await pipe.execute()
        return Counts(users=int(users), devices=int(devices))

    async def subscribe(self, subscriber: int, targets: Sequence[int], now: int, *, limit: int) -> int | None:
        total = await self._subscribe(
            keys=[self._watching_prefix + str(subscriber)],
            args=[
                now,
                now + self.subscription_ttl_ms,
                limit,
                self._watchers_prefix,
                subscriber,
                self.subscription_ttl_ms,
                *targets,
            ],
        )
        return None if int(total) < 0 else int(total)

    async def unsubscribe(self, subscriber: int, targets: Sequence[int] | None, now: int) -> int:
        total = await self._unsubscribe(
            keys=[self._watching_prefix + str(subscriber)],
            args=[now, self._watchers_prefix, subscriber, "all" if targets is None else "some", *(targets or ())],
        )
        return int(total)

    async def subscription_count(self, subscriber: int, now: int) -> int:
        return int(await self._redis.zcount(self._watching_prefix + str(subscriber), f"({now}", "+inf"))

    async def subscribers(self, target: int, now: int) -> set[int]:
        key = self._watchers_prefix + str(target)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zrangebyscore(key, f"({now}", "+inf")
            _, members = await pipe.execute()
        return {int(m) for m in members}

    async def close(self) -> None:
        await self._redis.aclose()
