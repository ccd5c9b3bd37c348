"""EventBus over `broadcaster`: `memory://` in one process, `redis://` across nodes.

Messages are JSON objects (encoded by app/fastjson.py) published on topics such as
``user:42``. Every message that matters carries a pts or seq, so a lost message heals
through sync.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from broadcaster import Broadcast

from app import fastjson
from app.bus.redis_backend import RedisPubSubBackend

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, subscriber: Any) -> None:
        self._subscriber = subscriber

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        async for event in self._subscriber:
            if event is None:
                return
            try:
                yield fastjson.loads(event.message)
            except (TypeError, ValueError):
                log.warning("dropping undecodable bus message on %s", event.channel)


class EventBus:
    def __init__(self, url: str = "memory://", *, prefix: str = "privchat") -> None:
        self.url = url
        self._prefix = prefix + ":"
        if url.startswith(("redis://", "rediss://")):
            self._broadcast = Broadcast(backend=RedisPubSubBackend(url))
        else:
            self._broadcast = Broadcast(url)
        self._connected = False

    @property
    def redis_reachable(self) -> bool | None:
        """None without Redis; else False while Redis is known to be unreachable."""
        backend = self._broadcast._backend
        return backend.connected if isinstance(backend, RedisPubSubBackend) else None

    @property
    def backend_name(self) -> str:
        return self.url.split("://", 1)[0]

    async def connect(self) -> None:
        if not self._connected:
            await self._broadcast.connect()
            self._connected = True

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            await self._broadcast.disconnect()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._broadcast.publish(self._prefix + topic, fastjson.dumps(message))

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        async with self._broadcast.subscribe(self._prefix + topic) as subscriber:
            yield Subscription(subscriber)
