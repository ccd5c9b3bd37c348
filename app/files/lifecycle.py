"""Removing what is no longer needed, and the administrators' storage report.

One sweep (every `file.sweep_interval_seconds`, in every server process: each step
claims its rows in a transaction, so concurrent sweepers never double-delete):
- uploads never completed, past their expiry (and refused ones, once their reason has
  been kept a while): the record and the staged bytes go;
- uploads fully received but not published (the storage was down): published again;
- ready files nothing refers to, either released (their last reference went: a revoked
  message, a replaced avatar, a deleted sticker) or never attached within
  `file.unattached_grace_seconds`: the records go, with their generated thumbnails;
- blobs no file uses any more: deleted from their source after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.db.types import now_ms
from app.errors import AppError
from app.files import store
from app.files.service import FileService
from app.files.storage import StorageUnavailable
from app.periodic import Periodic

log = logging.getLogger(__name__)

BATCH = 200


@dataclass
class SweepResult:
    expired_uploads: int = 0
    published_late: int = 0
    deleted_files: int = 0
    deleted_blobs: int = 0
    failed_deletions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UsageRow:
    user_id: int
    source_id: int
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class SourceRow:
    source_id: int
    kind: str
    blobs: int
    bytes: int


@dataclass(frozen=True, slots=True)
class StorageReport:
    users: list[UsageRow]
    sources: list[SourceRow]
    pending_uploads: int
    pending_bytes: int


class FileLifecycle:
    def __init__(self, files: FileService) -> None:
        self.files = files
        self.db = files.db
        self._sweeper = Periodic("file-sweeper", lambda: self.files.config.sweep_interval_seconds, self.sweep)

    async def start(self) -> None:
        self._sweeper.start()

    async def stop(self) -> None:
        await self._sweeper.stop()

    async def sweep(self, *, now: int | None = None) -> SweepResult:
        now = now if now is not None else now_ms()
        result = SweepResult()
        await self._expire_uploads(now, result)
        await self._publish_late(result)
        await self._collect_files(now, result)
        await self._delete_blobs(result)
        if result.expired_uploads or result.deleted_files or result.deleted_blobs or result.published_late:
            log.info(
                "file sweep: %d expired uploads, %d published late, %d files and %d blobs deleted",
                result.expired_uploads,
                result.published_late,
                result.deleted_files,
                result.deleted_blobs,
            )
        return result

    async def _expire_uploads(self, now: int, result: SweepResult) -> None:
        async with self.db.transaction() as tx:
            expired = await store.expired_uploads(tx.session, now, BATCH)
            await store.delete_files(tx.session, [f.id for f in expired])
        for record in expired:
            await self.files.staging.remove(record.id)
        result.expired_uploads += len(expired)

    async def _publish_late(self, result: SweepResult) -> None:
        staging = self.files.staging
        if not staging.root.exists():
            return
        complete = []
        for part in staging.root.glob("*.part"):
            file_id = part.stem
            async with self.db.read() as session:
                record = await store.get_file(session, file_id)
            if record is None:
                if part.stat().st_mtime * 1000 < now_ms() - self.files.config.incomplete_upload_ttl_seconds * 1000:
                    await staging.remove(file_id)  # left behind by a crash: its record is gone
                continue
            if record.status == "pending" and staging.offset(file_id) == record.declared_size:
                complete.append(file_id)
        for file_id in complete:
            try:
                await self.files.publish_received(file_id)
            except AppError as exc:
                log.info("upload %s still not published: %s", file_id, exc.message)
            else:
                result.published_late += 1

    async def _collect_files(self, now: int, result: SweepResult) -> None:
        grace_ms = self.files.config.unattached_grace_seconds * 1000
        async with self.db.transaction() as tx:
            s = tx.session
            doomed = await store.collectable_files(s, unattached_before=now - grace_ms, limit=BATCH)
            if not doomed:
                return
            thumbnails = await store.children_of(s, [f.id for f in doomed])
            everything = doomed + thumbnails
            for record in everything:
                if record.blob_id is not None:
                    await store.add_blob_refs(s, record.blob_id, -1)
            await store.delete_files(s, [f.id for f in thumbnails])
            await store.delete_files(s, [f.id for f in doomed])
        result.deleted_files += len(everything)

    async def _delete_blobs(self, result: SweepResult) -> None:
        """Bytes first, then the row: a source that is down keeps the row for the next sweep."""
        async with self.db.read() as session:
            blobs = await store.unused_blobs(session, BATCH)
        for blob in blobs:
            source = self.files.sources.get(blob.source_id)
            if source is None or blob.id is None:
                continue
            try:
                await source.delete(blob.key)
            except StorageUnavailable as exc:
                log.warning(
                    "could not delete %s from storage %s (next sweep retries): %s", blob.key, blob.source_id, exc
                )
                result.failed_deletions.append(blob.key)
                continue
            async with self.db.transaction() as tx:
                if await store.delete_unused_blob(tx.session, blob.id, blob.key):
                    result.deleted_blobs += 1

    async def report(self, *, user_id: int | None = None, limit: int = 100) -> StorageReport:
        async with self.db.read() as session:
            users = await store.usage_report(session, user_id=user_id, limit=limit)
            sources = {s: (n, b) for s, n, b in await store.source_totals(session)}
            pending, pending_bytes = await store.pending_totals(session)
        return StorageReport(
            users=[UsageRow(*row) for row in users],
            sources=[
                SourceRow(source_id, source.kind, *sources.get(source_id, (0, 0)))
                for source_id, source in sorted(self.files.sources.items())
            ],
            pending_uploads=pending,
            pending_bytes=pending_bytes,
        )
