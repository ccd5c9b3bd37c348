"""Uploads from token to published file, and who may read a file.

1. `request_upload` checks name, type, size (per purpose and per kind) and the user's
   quota, records a pending file and returns its upload URL (a capability: see tokens.py).
2. Bytes arrive through tus (create, HEAD, PATCH, DELETE), one plain PUT, a multipart
   POST, or a GraphQL `Upload`; they are staged on local disk (staging.py).
3. When the last byte is in, `_finalize` sniffs and checks the bytes, decodes images
   (pixel limit, metadata stripped, thumbnail + blurhash), hashes them and stores them in
   the upload's source, deduplicated by sha256. Only then, in one transaction, the file
   becomes `ready`: nothing half-stored is ever visible. A source that is down leaves the
   upload complete-but-pending; `file/upload_callback` (or the sweeper) publishes it later.

Reading: the uploader, and whoever the file's use admits (app/files/access rules in
`may_read`): members who can see a message it is attached to, anyone for a user's avatar,
a group's members for its avatar, everyone for a published sticker. Anything else is
NOT_FOUND, exactly like a file that does not exist.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.files import media, store
from app.files.names import sanitise_name
from app.files.staging import OffsetMismatch, Staging, TooLarge, UploadBusy, UploadGone, hash_file
from app.files.storage import Source, StorageUnavailable, build_sources
from app.files.tables import FileBlob, StoredFile
from app.files.tokens import UPLOAD_KEY, UPLOAD_TOKEN, FileTokens, UploadGrant
from app.principal import Principal

log = logging.getLogger(__name__)

PURPOSES = ("message", "user_avatar", "group_avatar", "sticker")
IMAGE_PURPOSES = ("user_avatar", "group_avatar", "sticker")
FILE_ID_RE = re.compile(r"^[0-9a-f]{32}\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
MIME_RE = re.compile(r"^[a-z0-9!#$&^_.+\-]{1,64}/[a-z0-9!#$&^_.+\-]{1,96}\Z")
HOST_RE = re.compile(r"^[A-Za-z0-9.\-]{1,253}\Z|^\[[0-9A-Fa-f:.]{2,45}\]\Z")
UPLOADS_PATH = "/api/app/files/uploads"
TUS_PATH = "/api/app/files/tus"
FILES_PATH = "/api/app/files"
FAILED_KEPT_MS = 3_600_000  # a refused upload's reason stays readable this long


@dataclass(frozen=True, slots=True)
class UploadTicket:
    file: StoredFile
    token: str
    upload_url: str
    expires_at: int  # ms: the token's expiry


@dataclass(frozen=True, slots=True)
class UploadState:
    file: StoredFile
    offset: int
    token_expires_at: int | None = None  # ms


@dataclass(frozen=True, slots=True)
class Download:
    file: StoredFile
    blob: FileBlob
    source: Source


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    expires_at: int  # ms


def new_file_id() -> str:
    return uuid.uuid4().hex


def check_file_id(value: str, field: str = "fileId") -> str:
    if not isinstance(value, str) or not FILE_ID_RE.match(value):
        raise AppError(ErrorCode.NOT_FOUND, "file not found", field=field)
    return value


class FileService:
    def __init__(self, *, settings: Settings, db: Database, tokens: FileTokens) -> None:
        self.settings = settings
        self.config = settings.file
        self.db = db
        self.tokens = tokens
        self.sources: dict[int, Source] = build_sources(settings)
        self.staging = Staging(settings.data_dir / "uploads")

    async def start(self) -> None:
        for source in self.sources.values():
            await source.start()

    async def close(self) -> None:
        for source in self.sources.values():
            await source.close()

    # -- URLs -------------------------------------------------------------------------------

    def base_url(self, host: str | None) -> str:
        """The service port as this client reaches it: file.public_url, else the host the
        client called (GraphQL's Host header) on http.port."""
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        if host is None or not HOST_RE.match(host):
            host = self.settings.host if self.settings.host not in ("0.0.0.0", "::", "") else "localhost"
            if ":" in host and not host.startswith("["):
                host = f"[{host}]"
        return f"http://{host}:{self.settings.http.port}"

    # -- limits -----------------------------------------------------------------------------

    def limit_for(self, purpose: str, kind: str) -> int:
        c = self.config
        limit = c.max_upload_bytes
        if purpose in ("user_avatar", "group_avatar"):
            limit = min(limit, c.max_avatar_bytes)
        elif purpose == "sticker":
            limit = min(limit, c.max_sticker_bytes)
        elif kind == "image":
            limit = min(limit, c.max_image_bytes)
        elif kind == "audio":
            limit = min(limit, c.max_audio_bytes)
        elif kind == "video":
            limit = min(limit, c.max_video_bytes)
        return limit

    # -- 1. request -------------------------------------------------------------------------

    async def request_upload(
        self,
        principal: Principal,
        *,
        name: str,
        size: int,
        mime: str,
        purpose: str,
        sha256: str | None = None,
        host: str | None = None,
    ) -> UploadTicket:
        if purpose not in PURPOSES:
            raise bad_input(f"purpose must be one of {', '.join(PURPOSES)}", field="purpose")
        if not isinstance(name, str) or not name.strip() or len(name) > 1024:
            raise bad_input("name must be a file name of 1..255 characters", field="name")
        clean_name = sanitise_name(name)
        declared = media.normalise_mime(mime or "")
        if not MIME_RE.match(declared):
            raise bad_input("mime is not a valid media type (type/subtype)", field="mime")
        kind = media.media_kind(declared)
        if purpose in IMAGE_PURPOSES and declared not in media.IMAGE_FORMATS.values():
            raise bad_input(f"a {purpose.replace('_', ' ')} must be a JPEG, PNG, GIF or WebP image", field="mime")
        limit = self.limit_for(purpose, kind)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise bad_input("size must be a positive number of bytes", field="size")
        if size > limit:
            raise AppError(
                ErrorCode.PAYLOAD_TOO_LARGE, f"size is over the limit of {limit} bytes for this file", limit=limit
            )
        if sha256 is not None:
            sha256 = sha256.strip().lower()
            if not SHA256_RE.match(sha256):
                raise bad_input("sha256 must be 64 hexadecimal digits", field="sha256")
        now = now_ms()
        record = StoredFile(
            id=new_file_id(),
            owner_id=principal.user_id,
            purpose=purpose,
            status="pending",
            name=clean_name,
            declared_mime=declared,
            declared_size=size,
            declared_sha256=sha256,
            source_id=self.config.default_source,
            created_at=now,
            expires_at=now + self.config.incomplete_upload_ttl_seconds * 1000,
        )
        async with self.db.transaction() as tx:
            await self._check_quota(tx.session, principal.user_id, size)
            await store.insert_file(tx.session, record)
        token_expiry = min(now // 1000 + self.config.upload_token_ttl_seconds, record.expires_at // 1000)
        token = self.tokens.issue(UPLOAD_TOKEN, self._grant(record, token_expiry))
        url = f"{self.base_url(host)}{UPLOADS_PATH}/{token}"
        return UploadTicket(file=record, token=token, upload_url=url, expires_at=token_expiry * 1000)

    async def _check_quota(self, session: AsyncSession, user_id: int, size: int) -> None:
        quota = self.config.user_quota_bytes
        if quota <= 0:
            return
        await store.lock_user(session, user_id)
        used = await store.usage_of(session, user_id)
        if used + size > quota:
            raise AppError(
                ErrorCode.FORBIDDEN,
                f"storage quota exceeded: {used} of {quota} bytes used",
                quotaBytes=quota,
                usedBytes=used,
            )

    @staticmethod
    def _grant(record: StoredFile, expires_at: int) -> UploadGrant:
        return UploadGrant(
            file_id=record.id,
            user_id=record.owner_id,
            size=record.declared_size,
            purpose=record.purpose,
            expires_at=expires_at,
        )

    async def _pending(self, grant: UploadGrant) -> StoredFile:
        """The upload a token or key is for; refused when it is not pending any more."""
        async with self.db.read() as session:
            record = await store.get_file(session, grant.file_id)
        if record is None or record.owner_id != grant.user_id:
            raise not_found("upload")
        if record.status == "ready":
            raise AppError(ErrorCode.CONFLICT, "the upload is already complete", fileId=record.id)
        if record.status == "failed":
            raise bad_input(f"the upload was refused: {record.error}", fileId=record.id)
        if record.expires_at <= now_ms():
            raise AppError(ErrorCode.NOT_FOUND, "the upload has expired")
        return record

    async def validate_token(self, token: str, principal: Principal | None = None) -> UploadState:
        """What a token is good for, before sending a large file with it. With a principal
        (the RPC), only the caller's own tokens are valid."""
        grant = self.tokens.check(UPLOAD_TOKEN, token)
        if principal is not None and grant.user_id != principal.user_id:
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid upload token")
        record = await self._pending(grant)
        return UploadState(record, self.staging.offset(record.id) or 0, grant.expires_at * 1000)

    # -- 2. bytes: tus ------------------------------------------------------------------------

    async def tus_create(self, token: str, length: int | None, host: str | None) -> tuple[str, StoredFile]:
        """tus creation: the URL of the upload (carrying its own key, valid until the upload
        expires). Creating again with the same token answers the same upload."""
        grant = self.tokens.check(UPLOAD_TOKEN, token)
        record = await self._pending(grant)
        if length is None:
            raise bad_input("Upload-Length is required (deferred lengths are not supported)")
        if length != record.declared_size:
            raise bad_input(f"Upload-Length {length} is not the declared size {record.declared_size}")
        await self.staging.create(record.id)
        key = self.tokens.issue(UPLOAD_KEY, self._grant(record, record.expires_at // 1000))
        return f"{self.base_url(host)}{TUS_PATH}/{key}", record

    async def tus_state(self, key: str) -> UploadState:
        grant = self.tokens.check(UPLOAD_KEY, key)
        async with self.db.read() as session:
            record = await store.get_file(session, grant.file_id)
        if record is None or record.owner_id != grant.user_id or record.status == "failed":
            raise not_found("upload")
        if record.status == "ready":
            return UploadState(record, record.declared_size)
        offset = self.staging.offset(record.id)
        if offset is None:
            raise not_found("upload")
        return UploadState(record, offset)

    async def tus_patch(
        self, key: str, offset: int, chunks: AsyncIterator[bytes], *, content_length: int | None = None
    ) -> UploadState:
        grant = self.tokens.check(UPLOAD_KEY, key)
        record = await self._pending(grant)
        return await self._receive(record, offset, chunks, content_length=content_length)

    async def _receive(
        self, record: StoredFile, offset: int, chunks: AsyncIterator[bytes], *, content_length: int | None
    ) -> UploadState:
        size = record.declared_size
        if content_length is not None and offset + content_length > size:
            raise AppError(ErrorCode.PAYLOAD_TOO_LARGE, f"the upload is {size} bytes; this would go beyond it")
        if self.staging.offset(record.id) is None:
            raise not_found("upload")
        try:
            new_offset = await self.staging.append(record.id, offset, size, chunks)
        except OffsetMismatch as exc:
            raise AppError(
                ErrorCode.CONFLICT,
                f"Upload-Offset {offset} is not the upload's offset {exc.current}",
                offset=exc.current,
            ) from None
        except UploadBusy:
            raise AppError(ErrorCode.CONFLICT, "another request is writing this upload", busy=True) from None
        except TooLarge:
            raise AppError(ErrorCode.PAYLOAD_TOO_LARGE, f"the upload is {size} bytes; more were sent") from None
        except UploadGone:
            raise not_found("upload") from None
        if new_offset < size:
            return UploadState(record, new_offset)
        return UploadState(await self._finalize(record.id, pending=record), size)

    async def tus_terminate(self, key: str) -> None:
        grant = self.tokens.check(UPLOAD_KEY, key)
        record = await self._pending(grant)
        await self._discard(record.id)

    async def _discard(self, file_id: str) -> None:
        if self.staging.offset(file_id) is not None:
            try:
                with self.staging.exclusive(file_id):
                    await self.staging.remove(file_id)
            except UploadGone:
                pass
            except UploadBusy:
                raise AppError(ErrorCode.CONFLICT, "another request is writing this upload", busy=True) from None
        async with self.db.transaction() as tx:
            current = await store.get_file(tx.session, file_id, lock=True)
            if current is not None and current.status != "ready":
                await store.delete_files(tx.session, [file_id])

    # -- 2. bytes: whole files ----------------------------------------------------------------

    async def put_whole(
        self, token: str, chunks: AsyncIterator[bytes], *, content_length: int | None = None
    ) -> StoredFile:
        """A plain PUT (or a multipart POST's file part): the whole file in one request. A
        retry starts over."""
        grant = self.tokens.check(UPLOAD_TOKEN, token)
        record = await self._pending(grant)
        return await self._whole(record, chunks, content_length=content_length)

    async def _whole(
        self, record: StoredFile, chunks: AsyncIterator[bytes], *, content_length: int | None
    ) -> StoredFile:
        if content_length is not None and content_length != record.declared_size:
            raise bad_input(f"the body is {content_length} bytes, not the declared {record.declared_size}")
        try:
            await self.staging.reset(record.id)
        except UploadGone:
            raise not_found("upload") from None
        except UploadBusy:
            raise AppError(ErrorCode.CONFLICT, "another request is writing this upload", busy=True) from None
        state = await self._receive(record, 0, chunks, content_length=None)
        if state.offset != record.declared_size:
            await self.staging.remove(record.id)
            raise bad_input(f"received {state.offset} bytes, not the declared {record.declared_size}")
        return state.file

    async def upload_small(
        self,
        principal: Principal,
        *,
        name: str,
        mime: str,
        purpose: str,
        size: int,
        chunks: AsyncIterator[bytes],
    ) -> StoredFile:
        """A small file in one call (GraphQL `Upload`, native bytes): request + bytes."""
        if size > self.config.max_graphql_upload_bytes:
            raise AppError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"files over {self.config.max_graphql_upload_bytes} bytes are uploaded with file/request_upload_token",
            )
        ticket = await self.request_upload(principal, name=name, size=size, mime=mime, purpose=purpose)
        try:
            return await self._whole(ticket.file, chunks, content_length=size)
        except AppError:
            await self._discard_quietly(ticket.file.id)
            raise

    async def _discard_quietly(self, file_id: str) -> None:
        with contextlib.suppress(AppError):
            await self._discard(file_id)

    async def upload_callback(self, principal: Principal, file_id: str) -> StoredFile:
        """The upload is done: the published file (published now if the last PATCH could not,
        e.g. because the storage was down)."""
        check_file_id(file_id)
        async with self.db.read() as session:
            record = await store.get_file(session, file_id)
        if record is None or record.owner_id != principal.user_id or record.purpose == "thumbnail":
            raise not_found("file")
        if record.status == "ready":
            return record
        if record.status == "failed":
            raise bad_input(f"the upload was refused: {record.error}", fileId=file_id)
        offset = self.staging.offset(file_id) or 0
        if offset < record.declared_size:
            raise AppError(
                ErrorCode.CONFLICT,
                f"the upload is incomplete: {offset} of {record.declared_size} bytes",
                offset=offset,
            )
        return await self._finalize(file_id)

    async def get_file(self, principal: Principal, file_id: str) -> StoredFile:
        check_file_id(file_id)
        async with self.db.read() as session:
            record = await store.get_file(session, file_id)
            if record is None or not await self.may_read(session, record, principal.user_id, principal.is_admin):
                raise not_found("file")
        return record

    # -- 3. publishing ------------------------------------------------------------------------

    async def publish_received(self, file_id: str) -> StoredFile:
        """Publish an upload whose bytes are all in (the sweeper's retry after an outage)."""
        return await self._finalize(file_id)

    async def _finalize(self, file_id: str, *, pending: StoredFile | None = None) -> StoredFile:
        """`pending`: the upload's record as the request that wrote its last byte read it
        (pending then, before it took the upload's lock): it is not read again. Whatever
        happened to the upload since (published or refused by another request that then
        died before removing the staged bytes, or swept away) is found by the
        publishing transaction, which only updates a record still pending."""
        try:
            with self.staging.exclusive(file_id):
                return await self._finalize_locked(file_id, pending)
        except UploadGone:
            async with self.db.read() as session:
                record = await store.get_file(session, file_id)
            if record is not None and record.status == "ready":
                return record  # published meanwhile by another request
            raise not_found("upload") from None
        except UploadBusy:
            raise AppError(ErrorCode.CONFLICT, "the upload is being published; ask again shortly", busy=True) from None

    async def _settled(self, file_id: str) -> StoredFile:
        """The upload's record when it is no longer pending: published, or an error."""
        async with self.db.read() as session:
            record = await store.get_file(session, file_id)
        if record is not None and record.status == "ready":
            return record
        if record is not None and record.status == "failed":
            raise bad_input(f"the upload was refused: {record.error}", fileId=file_id)
        raise not_found("upload")

    async def _finalize_locked(self, file_id: str, pending: StoredFile | None) -> StoredFile:
        record = pending
        if record is None:
            async with self.db.read() as session:
                record = await store.get_file(session, file_id)
        if record is None:
            raise not_found("upload")
        if record.status == "ready":
            return record
        if record.status == "failed":
            raise bad_input(f"the upload was refused: {record.error}", fileId=file_id)
        staged = self.staging.path(file_id)
        clean = staged.with_suffix(".clean")
        thumb = staged.with_suffix(".thumb")
        try:
            received_sha, size = await self.staging.sha256(file_id)
            if size != record.declared_size:
                raise media.MediaError(f"received {size} bytes, not the declared {record.declared_size}")
            if record.declared_sha256 is not None and received_sha != record.declared_sha256:
                raise media.MediaError("the bytes do not match the declared sha256")
            facts = await anyio.to_thread.run_sync(self._examine, record, staged, clean, thumb)
        except media.MediaError as exc:
            if not await self._refuse(record, str(exc)):
                return await self._settled(file_id)
            raise bad_input(f"the upload was refused: {exc}", fileId=file_id) from None
        final = clean if facts.stripped else staged
        final_sha, final_size = await hash_file(clean) if facts.stripped else (received_sha, size)
        source = self.sources[record.source_id]
        try:
            published = await self._publish(record, source, final, final_sha, final_size, facts, thumb)
        except _NotPending:
            # Settled by another request that died before removing the staged bytes.
            await self.staging.remove(file_id)
            return await self._settled(file_id)
        except StorageUnavailable as exc:
            log.warning("publishing upload %s failed: %s", file_id, exc)
            raise AppError(
                ErrorCode.UNAVAILABLE,
                "file storage is unavailable; the upload is kept: retry file/upload_callback later",
            ) from None
        finally:
            for leftover in (clean, thumb):
                leftover.unlink(missing_ok=True)
        await self.staging.remove(file_id)
        return published

    def _examine(self, record: StoredFile, staged: Path, clean: Path, thumb: Path) -> _Facts:
        sniffed = media.sniff(staged)
        mime = media.reconcile(record.declared_mime, sniffed)
        kind = media.media_kind(mime)
        limit = self.limit_for(record.purpose, kind)
        if record.declared_size > limit:
            raise media.MediaError(f"a {kind} may be at most {limit} bytes")
        if record.purpose in IMAGE_PURPOSES and kind != "image":
            raise media.MediaError(f"a {record.purpose.replace('_', ' ')} must be an image")
        if kind in ("audio", "video"):
            return _Facts(mime=mime, kind=kind, duration_ms=media.duration_ms(staged))
        if kind != "image":
            return _Facts(mime=mime, kind=kind)
        image = media.inspect_image(
            staged,
            max_pixels=self.config.max_image_pixels,
            strip_to=clean if self.config.strip_metadata else None,
        )
        preview = media.make_thumbnail(clean if image.stripped else staged, thumb, size=self.config.thumbnail_size)
        return _Facts(
            mime=image.mime,
            kind="image",
            width=image.width,
            height=image.height,
            stripped=image.stripped,
            blurhash=preview.blurhash,
            thumbnail=(preview.width, preview.height),
        )

    async def _refuse(self, record: StoredFile, reason: str) -> bool:
        """Mark the upload failed and drop its bytes; False when it was no longer pending."""
        async with self.db.transaction() as tx:
            refused = await store.settle_pending_file(
                tx.session,
                record.id,
                {"status": "failed", "error": reason[:256], "expires_at": now_ms() + FAILED_KEPT_MS},
            )
        await self.staging.remove(record.id)
        return refused

    async def _publish(
        self,
        record: StoredFile,
        source: Source,
        path: Path,
        sha256: str,
        size: int,
        facts: _Facts,
        thumb: Path,
    ) -> StoredFile:
        """Store the bytes (and the thumbnail) unless the source has them already, then make
        the file ready in one transaction. A blob deleted between the look-up and the
        transaction is noticed there, and the whole step runs again."""
        outputs: list[tuple[Path, str, int]] = [(path, sha256, size)]
        if facts.thumbnail is not None:
            outputs.append((thumb, *await hash_file(thumb)))
        for _ in range(3):
            blobs = [await self._place(source, p, sha, n) for p, sha, n in outputs]
            now = now_ms()
            thumb_record = None
            try:
                async with self.db.transaction() as tx:
                    s = tx.session
                    blob_ids = [await self._claim(s, source, place, now) for place in blobs]
                    values = {
                        "status": "ready",
                        "blob_id": blob_ids[0],
                        "size": size,
                        "sha256": sha256,
                        "mime": facts.mime,
                        "media_kind": facts.kind,
                        "width": facts.width,
                        "height": facts.height,
                        "duration_ms": facts.duration_ms,
                        "blurhash": facts.blurhash,
                        "completed_at": now,
                    }
                    if facts.thumbnail is not None:
                        thumb_record = StoredFile(
                            id=new_file_id(),
                            owner_id=record.owner_id,
                            purpose="thumbnail",
                            status="ready",
                            name=_thumb_name(record.name),
                            declared_mime="image/jpeg",
                            declared_size=outputs[1][2],
                            source_id=source.id,
                            blob_id=blob_ids[1],
                            size=outputs[1][2],
                            sha256=outputs[1][1],
                            mime="image/jpeg",
                            media_kind="image",
                            width=facts.thumbnail[0],
                            height=facts.thumbnail[1],
                            parent_id=record.id,
                            created_at=now,
                            expires_at=now,
                            completed_at=now,
                        )
                        await store.insert_file(s, thumb_record)
                        values["thumbnail_id"] = thumb_record.id
                    if not await store.settle_pending_file(s, record.id, values):
                        raise _NotPending()
                    # The published record as stored (built here: no read-back round trip).
                    ready = StoredFile.model_validate({**record.model_dump(), **values})
            except _BlobVanished:
                for place in blobs:
                    if place.new_key is not None:
                        await self._delete_quietly(source, place.new_key)
                continue
            except BaseException:
                for place in blobs:
                    if place.new_key is not None:
                        await self._delete_quietly(source, place.new_key)
                raise
            for place in blobs:
                if place.new_key is not None and place.duplicate:
                    await self._delete_quietly(source, place.new_key)
            return ready
        raise StorageUnavailable("the stored content kept changing; try again")

    async def _place(self, source: Source, path: Path, sha256: str, size: int) -> _Placement:
        if source.lookup_before_put:
            async with self.db.read() as session:
                existing = await store.find_blob(session, source.id, sha256)
            if existing is not None and existing.ref_count > 0:
                return _Placement(sha256=sha256, size=size, existing_id=existing.id)
        key = source.new_key(sha256)
        await source.put_file(key, path, size)
        return _Placement(sha256=sha256, size=size, new_key=key)

    async def _claim(self, session: AsyncSession, source: Source, place: _Placement, now: int) -> int:
        """One more reference to the placed content (inside the publishing transaction)."""
        if place.existing_id is not None:
            if not await store.add_ref_if_live(session, place.existing_id):
                raise _BlobVanished()
            return place.existing_id
        assert place.new_key is not None
        blob_id = await store.insert_blob(
            session, source_id=source.id, sha256=place.sha256, size=place.size, key=place.new_key, at=now
        )
        if blob_id is not None:
            return blob_id
        # The same content is recorded already: share it (our copy goes after commit), or,
        # when it is unused and on its way out, give it our bytes.
        existing = await store.find_blob(session, source.id, place.sha256)
        if existing is None or existing.id is None:
            raise _BlobVanished()
        if await store.add_ref_if_live(session, existing.id):
            place.duplicate = True
        elif not await store.adopt_blob(session, existing.id, place.new_key):
            raise _BlobVanished()
        return existing.id

    async def _delete_quietly(self, source: Source, key: str) -> None:
        try:
            await source.delete(key)
        except StorageUnavailable:
            log.warning("could not delete %s from storage %s", key, source.id, exc_info=True)

    # -- reading ------------------------------------------------------------------------------

    async def may_read(self, session: AsyncSession, record: StoredFile, user_id: int, is_admin: bool = False) -> bool:
        if record.status != "ready":
            return False
        subject = record
        if record.parent_id is not None:
            parent = await store.get_file(session, record.parent_id)
            if parent is None or parent.status != "ready":
                return False
            subject = parent
        if subject.owner_id == user_id:
            return True
        if subject.purpose == "message":
            return await store.message_file_visible(session, subject.id, user_id)
        if subject.purpose == "user_avatar":
            return await store.user_avatar_in_use(session, subject.id)
        if subject.purpose == "group_avatar":
            return await store.group_avatar_visible(session, subject.id, user_id)
        if subject.purpose == "sticker":
            return is_admin or await store.sticker_published(session, subject.id)
        return False

    async def open_download(self, *, file_id: str, user_id: int, is_admin: bool = False) -> Download:
        if not FILE_ID_RE.match(file_id):
            raise not_found("file")
        async with self.db.read() as session:
            record = await store.get_file(session, file_id)
            if record is None or not await self.may_read(session, record, user_id, is_admin):
                raise not_found("file")
            blob = await store.get_blob(session, record.blob_id) if record.blob_id is not None else None
        source = self.sources.get(blob.source_id) if blob is not None else None
        if blob is None or source is None:
            raise not_found("file")
        return Download(record, blob, source)

    async def signed_url(self, principal: Principal, file_id: str, host: str | None) -> SignedUrl:
        """A link that reads the file with no header (`<img src>`), for this user, until it
        expires; the access rules are checked now and again when it is used."""
        await self.get_file(principal, file_id)
        expires = int(time.time()) + self.config.download_url_ttl_seconds
        signature = self.tokens.sign_download(file_id, principal.user_id, expires)
        url = f"{self.base_url(host)}{FILES_PATH}/{file_id}?u={principal.user_id}&e={expires}&s={signature}"
        return SignedUrl(url=url, expires_at=expires * 1000)


@dataclass(frozen=True, slots=True)
class _Facts:
    mime: str
    kind: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    stripped: bool = False
    blurhash: str | None = None
    thumbnail: tuple[int, int] | None = None


@dataclass(slots=True)
class _Placement:
    sha256: str
    size: int
    existing_id: int | None = None
    new_key: str | None = None
    duplicate: bool = False


class _BlobVanished(Exception):
    """A blob found before the transaction was deleted by the sweeper meanwhile."""


class _NotPending(Exception):
    """The upload was published, refused or removed while this request examined it."""


def _thumb_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return sanitise_name(f"{stem}-thumb.jpg")
