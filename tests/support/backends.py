"""Which database and bus the suite runs on.

PRIVCHAT_TEST_BACKEND=sqlite (default): SQLite file per test, in-memory bus.
PRIVCHAT_TEST_BACKEND=postgres: a fresh PostgreSQL database per test (cloned from a
migrated template), Redis for bus and rate limits. The PostgreSQL server comes from
PRIVCHAT_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and Redis
from PRIVCHAT_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

BACKEND = os.environ.get("PRIVCHAT_TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("PRIVCHAT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PRIVCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IS_POSTGRES = BACKEND == "postgres"


@dataclass(frozen=True)
class TestDatabase:
    url: str  # what DATABASE_URL gets
    name: str | None  # PostgreSQL database name to drop afterwards


def _server_url(dbname: str) -> str:
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class DatabaseFactory:
    """Migrates a template once per test session, then hands out clones."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template: str | None = None
        self.created: list[str] = []

    async def _migrate(self, url: str) -> None:
        from app.config import normalise_database_url
        from app.db import Database
        from app.db.migrate import upgrade_to_head

        db = Database(normalise_database_url(url))
        try:
            await upgrade_to_head(db)
        finally:
            await db.dispose()

    async def new(self) -> TestDatabase:
        if IS_POSTGRES:
            if self.template is None:
                self.template = f"privchat_tpl_{uuid.uuid4().hex[:10]}"
                await _pg_exec(f'CREATE DATABASE "{self.template}"')
                self.created.append(self.template)
                await self._migrate(_server_url(self.template))
            name = f"privchat_t_{uuid.uuid4().hex[:12]}"
            await _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return TestDatabase(url=_server_url(name), name=name)
        template = self.workdir / "template.db"
        if self.template is None:
            await self._migrate(f"sqlite:///{template}")
            self.template = str(template)
        target = self.workdir / f"{uuid.uuid4().hex[:12]}.db"
        shutil.copyfile(template, target)
        return TestDatabase(url=f"sqlite:///{target}", name=None)

    async def drop(self, db: TestDatabase) -> None:
        if db.name is not None:
            await _pg_exec(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
            self.created.remove(db.name)

    async def drop_all(self) -> None:
        for name in list(self.created):
            await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def services_available() -> tuple[bool, str]:
    """Whether PostgreSQL and Redis answer; the reason when not."""

    async def check() -> tuple[bool, str]:
        try:
            await asyncio.wait_for(_pg_exec("SELECT 1"), 5)
        except Exception as exc:
            return False, f"PostgreSQL at {PG_URL} unreachable: {exc}"
        try:
            import redis.asyncio as redis

            client = redis.Redis.from_url(REDIS_URL)
            await asyncio.wait_for(client.ping(), 5)
            await client.aclose()
        except Exception as exc:
            return False, f"Redis at {REDIS_URL} unreachable: {exc}"
        return True, ""

    return asyncio.run(check())
