"""File types: upload tokens, file info, signed links, the admin storage report."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.file_uploads import Upload

from app.files.lifecycle import StorageReport
from app.files.tables import StoredFile
from schema.common import Long, from_ms, from_ms_required, to_id


@strawberry.enum(description="What a file is uploaded for: it decides size limits and who may read it.")
class FilePurpose(Enum):
    MESSAGE = "message"
    USER_AVATAR = "user_avatar"
    GROUP_AVATAR = "group_avatar"
    STICKER = "sticker"


@strawberry.enum
class FileStatus(Enum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@strawberry.type(description="An uploaded file. Sizes, type and dimensions are what the server found in the bytes.")
class FileInfo:
    id: strawberry.ID
    name: str
    size: Long | None = strawberry.field(description="bytes stored (after metadata stripping); null until ready")
    mime_type: str | None
    purpose: str
    status: FileStatus
    width: int | None
    height: int | None
    duration_ms: Long | None = strawberry.field(description="audio/video play time, when the container says")
    blurhash: str | None
    thumbnail_file_id: strawberry.ID | None
    sha256: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def from_record(cls, rec: StoredFile) -> FileInfo:
        return cls(
            id=strawberry.ID(rec.id),
            name=rec.name,
            size=rec.size,  # type: ignore[arg-type]
            mime_type=rec.mime,
            purpose=rec.purpose.upper(),
            status=FileStatus(rec.status),
            width=rec.width,
            height=rec.height,
            duration_ms=rec.duration_ms,  # type: ignore[arg-type]
            blurhash=rec.blurhash,
            thumbnail_file_id=strawberry.ID(rec.thumbnail_id) if rec.thumbnail_id else None,
            sha256=rec.sha256,
            created_at=from_ms_required(rec.created_at),
            completed_at=from_ms(rec.completed_at),
        )


@strawberry.input
class FileRequestUploadTokenInput:
    name: str = strawberry.field(description="the file's name (sanitised: no directories, no control characters)")
    size: Long = strawberry.field(description="exact size in bytes")
    mime: str = strawberry.field(description="declared media type; the bytes must agree")
    purpose: FilePurpose
    sha256: str | None = strawberry.field(default=None, description="hex sha256 of the bytes, checked when complete")


@strawberry.type
class FileRequestUploadTokenPayload:
    file_id: strawberry.ID
    upload_url: str = strawberry.field(
        description="tus creation endpoint on the service port, carrying its own token: POST (tus), PUT the "
        "whole file, or POST multipart/form-data with a `file` part; no Authorization header needed"
    )
    token: str
    expires_at: datetime = strawberry.field(description="the upload must start before this")


@strawberry.input
class FileValidateTokenInput:
    token: str


@strawberry.type
class FileValidateTokenPayload:
    valid: bool
    file_id: strawberry.ID
    size: Long
    purpose: str
    offset: Long = strawberry.field(description="bytes already received on this server")
    expires_at: datetime


@strawberry.input
class FileUploadCallbackInput:
    file_id: strawberry.ID


@strawberry.type
class FileUploadCallbackPayload:
    file: FileInfo


@strawberry.input
class FileGetUrlInput:
    file_id: strawberry.ID


@strawberry.type
class FileGetUrlPayload:
    url: str = strawberry.field(description="GET it with no header (works in <img src>) until expiresAt")
    expires_at: datetime


@strawberry.input
class FileInfoInput:
    file_id: strawberry.ID


@strawberry.type
class FileInfoPayload:
    file: FileInfo


@strawberry.input(description="A small file in one request: the GraphQL multipart request spec (or bytes natively).")
class FileUploadInput:
    file: Upload
    purpose: FilePurpose
    name: str | None = strawberry.field(default=None, description="default: the uploaded part's file name")
    mime: str | None = strawberry.field(default=None, description="default: the uploaded part's content type")


@strawberry.type
class FileUploadPayload:
    file: FileInfo


@strawberry.input
class AdminFileStorageReportInput:
    user_id: strawberry.ID | None = None
    limit: int = 100


@strawberry.type
class StorageUsage:
    user_id: strawberry.ID
    source_id: int
    files: int
    bytes: Long


@strawberry.type
class StorageSourceUsage:
    source_id: int
    kind: str
    blobs: int = strawberry.field(description="distinct contents stored (deduplicated)")
    bytes: Long


@strawberry.type
class AdminFileStorageReportPayload:
    users: list[StorageUsage]
    sources: list[StorageSourceUsage]
    pending_uploads: int
    pending_bytes: Long

    @classmethod
    def from_report(cls, report: StorageReport) -> AdminFileStorageReportPayload:
        return cls(
            users=[
                StorageUsage(user_id=to_id(u.user_id), source_id=u.source_id, files=u.files, bytes=u.bytes)  # type: ignore[arg-type]
                for u in report.users
            ],
            sources=[
                StorageSourceUsage(source_id=s.source_id, kind=s.kind, blobs=s.blobs, bytes=s.bytes)  # type: ignore[arg-type]
                for s in report.sources
            ],
            pending_uploads=report.pending_uploads,
            pending_bytes=report.pending_bytes,  # type: ignore[arg-type]
        )


@strawberry.type
class AdminFileSweepPayload:
    expired_uploads: int
    published_late: int
    deleted_files: int
    deleted_blobs: int
