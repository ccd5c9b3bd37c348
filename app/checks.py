"""`privchat-server check`: can this configuration serve? For deploy pipelines.

Each check reaches the real thing: the database (and whether its migrations are current),
Redis, and every storage source (a probe file written, read back and deleted).
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.config_file import mask_url

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


async def run_checks(settings: Settings) -> list[Check]:
    return [
        await _guard("database", _database(settings)),
        await _guard("redis", _redis(settings)),
        *[await _guard(f"storage source {s.id}", _storage(settings, s.id)) for s in settings.file.storage_sources],
    ]


async def _guard(name: str, check: object) -> Check:
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            detail: str = await check  # type: ignore[misc]
        return Check(name, True, detail)
    except TimeoutError:
        return Check(name, False, f"no answer within {TIMEOUT_SECONDS:.0f} s")
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))


async def _database(settings: Settings) -> str:
    from alembic.script import ScriptDirectory

    from app.db import Database
    from app.db.migrate import alembic_config, current_revision

    where = mask_url(settings.database_url)
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        try:
            current = await current_revision(db)
        except Exception as exc:
            raise ConnectionError(f"cannot reach {where}: {type(exc).__name__}: {exc}") from None
    finally:
        await db.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        auto = " (or let the server apply them: database.auto_migrate)" if settings.database.auto_migrate else ""
        raise RuntimeError(
            f"{where} is at revision {current or 'none'}, not {head}: run `privchat-server migrate`{auto}"
        )
    return f"{where}, migrations current ({head})"


async def _redis(settings: Settings) -> str:
    url = settings.redis_url
    if url is None:
        return "not configured (in-memory bus and rate limits: one process only)"
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return mask_url(url)


async def _storage(settings: Settings, source_id: int) -> str:
    from app.files.storage import build_sources

    source = build_sources(settings)[source_id]
    config = settings.file.source(source_id)
    where = f"{config.kind} {config.bucket + '/' if config.bucket else ''}{config.path}"
    await source.start()
    key = f"privchat-check/{uuid.uuid4().hex}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / "probe"
            probe.write_bytes(b"privchat storage check")
            await source.put_file(key, probe, probe.stat().st_size)
        data = b"".join([chunk async for chunk in source.read(key, 0, 21)])
        await source.delete(key)
        if data != b"privchat storage check":
            raise RuntimeError("the probe file read back differently")
    finally:
        await source.close()
    return f"{where}: write, read, delete ok"
