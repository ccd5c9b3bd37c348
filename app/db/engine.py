"""The async engine and the one way to write: `async with db.transaction() as tx`.

On PostgreSQL the hot path (authentication, the one-statement send) also runs single
statements on the driver directly (`fetchrow`), outside any transaction: one statement,
one round trip, no ORM or statement-building work per call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app import fastjson

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 10.0  # the driver pool's graceful close, then its connections are cut

AfterCommit = Callable[..., Awaitable[Any] | Any]
# Called with the SQL of every statement sent on the driver path (tests count round trips).
StatementHook = Callable[[str], None]


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
        self._pool_size = pool_size
        self._driver: asyncpg.Pool | None = None
        self._driver_opening: asyncio.Lock = asyncio.Lock()
        self.statement_hooks: list[StatementHook] = []
        # Told of each batch of calls sent as one statement (app/db/batch.py): metrics.
        self.batch_observer: Callable[[str, int], None] | None = None

    async def start(self) -> None:
        """Open the driver pool now (PostgreSQL), so the first request does not pay for it."""
        if not self.is_sqlite:
            await self._open_driver()

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        """Run one statement on the driver directly, in autocommit (PostgreSQL only): one
        round trip. Its prepared statement is cached per connection."""
        return await (await self._driver_for(sql)).fetchrow(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Like `fetchrow`, for a statement answering several rows."""
        return list(await (await self._driver_for(sql)).fetch(sql, *args))

    async def _driver_for(self, sql: str) -> asyncpg.Pool:
        pool = self._driver or await self._open_driver()
        for hook in self.statement_hooks:
            hook(sql)
        return pool

    def pool_status(self) -> dict[str, int]:
        """Connections by state, for metrics: the SQLAlchemy pool (transactions) and the
        asyncpg pool of the hot path (PostgreSQL only)."""
        pool: Any = self.engine.pool
        out: dict[str, int] = {}
        if hasattr(pool, "checkedout"):
            out["in_use"] = int(pool.checkedout())
            out["idle"] = int(pool.checkedin()) if hasattr(pool, "checkedin") else 0
            out["overflow"] = max(0, int(pool.overflow())) if hasattr(pool, "overflow") else 0
        if self._driver is not None:
            size, idle = self._driver.get_size(), self._driver.get_idle_size()
            out["hot_path_in_use"] = size - idle
            out["hot_path_idle"] = idle
        return out

    async def _open_driver(self) -> asyncpg.Pool:
        async with self._driver_opening:
            if self._driver is None:
                dsn = self.url.replace("postgresql+asyncpg://", "postgresql://", 1)
                self._driver = await asyncpg.create_pool(
                    dsn,
                    # No floor kept: a pool that must hold one connection keeps dialling a
                    # database that is gone (a dropped test database, a failover) in the
                    # background; connections are made on use and then kept.
                    min_size=0,
                    max_size=self._pool_size,
                    init=_driver_codecs,
                    # Only autocommitted single statements run here: there is no session
                    # state to reset, so don't spend a round trip on RESET ALL per release.
                    reset=_no_reset,
                )
            return self._driver

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
        if self._driver is not None:
            driver, self._driver = self._driver, None
            try:
                # Graceful close waits for every acquired connection: bounded, so a call
                # stuck on a dead server (or a dropped database) cannot hold shutdown.
                await asyncio.wait_for(driver.close(), CLOSE_TIMEOUT_S)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                log.warning("closing the database driver pool timed out; connections terminated")
                driver.terminate()
        await self.engine.dispose()


async def _driver_codecs(conn: asyncpg.Connection) -> None:
    # JSON columns hold what SQLAlchemy's JSON type writes (the same JSON, encoded faster).
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=fastjson.dumps_text, decoder=fastjson.loads, schema="pg_catalog")


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
