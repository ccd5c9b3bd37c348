"""The async engine and the one way to write: `async with db.transaction() as tx`."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

log = logging.getLogger(__name__)

AfterCommit = Callable[..., Awaitable[Any] | Any]


class Transaction:
    """A session inside a transaction, plus hooks that run only if it commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after: list[tuple[AfterCommit, tuple[Any, ...]]] = []

    def after_commit(self, fn: AfterCommit, *args: Any) -> None:
        self._after.append((fn, args))

    async def _run_after_commit(self) -> None:
        for fn, args in self._after:
            try:
                result = fn(*args)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a hint failing must never undo a committed write
                log.exception("after-commit hook %r failed", fn)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # A small pool of connections (each runs its own aiosqlite thread); WAL lets
            # readers run beside the single writer that _write_lock admits.
            self.engine: AsyncEngine = create_async_engine(
                url, echo=echo, pool_size=5, max_overflow=5, connect_args={"timeout": 30}
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_async_engine(
                url,
                echo=echo,
                # Each new PostgreSQL connection forks a backend: keep the pool warm and
                # let bursts queue for a connection rather than open and drop extra ones.
                pool_size=pool_size,
                max_overflow=pool_size // 2,
                pool_timeout=30,
                pool_recycle=3600,
                # No pre-ping round trip per checkout: a dead connection raises on use and
                # the pool replaces it (invalidation on disconnect errors).
                pool_pre_ping=False,
            )
        # SQLite allows one writer; serialising writers in-process avoids SQLITE_BUSY
        # when a deferred transaction upgrades from read to write.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A read-write transaction. Hooks registered with `tx.after_commit` run after COMMIT."""
        lock = self._write_lock if self._write_lock is not None else nullcontext()
        async with lock:
            async with AsyncSession(self.engine, expire_on_commit=False) as session:
                tx = Transaction(session)
                async with session.begin():
                    yield tx
        await tx._run_after_commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (no after-commit hooks, no writer lock)."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("database ping failed", exc_info=True)
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
