"""file/*: upload tokens, the upload callback, signed download links, small uploads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from app.context import RequestContext
from app.errors import bad_input
from app.ops import Audience, Auth, mutation, query
from schema.common import from_ms_required, parse_id
from schema.files import (
    AdminFileStorageReportInput,
    AdminFileStorageReportPayload,
    AdminFileSweepPayload,
    FileGetUrlInput,
    FileGetUrlPayload,
    FileInfo,
    FileInfoInput,
    FileInfoPayload,
    FileRequestUploadTokenInput,
    FileRequestUploadTokenPayload,
    FileUploadCallbackInput,
    FileUploadCallbackPayload,
    FileUploadInput,
    FileUploadPayload,
    FileValidateTokenInput,
    FileValidateTokenPayload,
)

CHUNK = 1024 * 1024


async def file_request_upload_token(
    ctx: RequestContext, input: FileRequestUploadTokenInput
) -> FileRequestUploadTokenPayload:
    """Announce an upload (name, size, type, purpose): its fileId and the URL to send the
    bytes to (tus, PUT or multipart POST on the service port)."""
    ticket = await ctx.services.files.request_upload(
        ctx.principal,
        name=input.name,
        size=int(input.size),
        mime=input.mime,
        purpose=input.purpose.value,
        sha256=input.sha256,
        host=ctx.host,
    )
    return FileRequestUploadTokenPayload(
        file_id=ticket.file.id,  # type: ignore[arg-type]
        upload_url=ticket.upload_url,
        token=ticket.token,
        expires_at=from_ms_required(ticket.expires_at),
    )


async def file_validate_token(ctx: RequestContext, input: FileValidateTokenInput) -> FileValidateTokenPayload:
    """Check an upload token before sending a large file with it."""
    state = await ctx.services.files.validate_token(input.token, ctx.principal)
    return FileValidateTokenPayload(
        valid=True,
        file_id=state.file.id,  # type: ignore[arg-type]
        size=state.file.declared_size,  # type: ignore[arg-type]
        purpose=state.file.purpose.upper(),
        offset=state.offset,  # type: ignore[arg-type]
        expires_at=from_ms_required(state.token_expires_at or state.file.expires_at),
    )


async def file_upload_callback(ctx: RequestContext, input: FileUploadCallbackInput) -> FileUploadCallbackPayload:
    """The upload is complete: the published file (published now if the last request
    could not, e.g. while storage was down)."""
    record = await ctx.services.files.upload_callback(ctx.principal, str(input.file_id))
    return FileUploadCallbackPayload(file=FileInfo.from_record(record))


async def file_get_url(ctx: RequestContext, input: FileGetUrlInput) -> FileGetUrlPayload:
    """A signed link to download a file you may read, usable without any header."""
    signed = await ctx.services.files.signed_url(ctx.principal, str(input.file_id), ctx.host)
    return FileGetUrlPayload(url=signed.url, expires_at=from_ms_required(signed.expires_at))


async def file_info(ctx: RequestContext, input: FileInfoInput) -> FileInfoPayload:
    """A file you may read: its size, type, dimensions, thumbnail."""
    record = await ctx.services.files.get_file(ctx.principal, str(input.file_id))
    return FileInfoPayload(file=FileInfo.from_record(record))


async def file_upload(ctx: RequestContext, input: FileUploadInput) -> FileUploadPayload:
    """Upload a small file in one request (GraphQL multipart `Upload`; bytes on the native
    gateway); larger files use file/request_upload_token."""
    upload: Any = input.file
    if isinstance(upload, bytes | bytearray):
        name, mime, size, chunks = input.name or "file", input.mime, len(upload), _bytes_chunks(bytes(upload))
    elif hasattr(upload, "read") and hasattr(upload, "size"):
        name = input.name or upload.filename or "file"
        mime = input.mime or upload.content_type
        size, chunks = int(upload.size or 0), _file_chunks(upload)
    else:
        raise bad_input("file must be an uploaded file (multipart request) or bytes", field="file")
    if not mime:
        raise bad_input("mime is required", field="mime")
    record = await ctx.services.files.upload_small(
        ctx.principal, name=name, mime=mime, purpose=input.purpose.value, size=size, chunks=chunks
    )
    return FileUploadPayload(file=FileInfo.from_record(record))


async def _bytes_chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


async def _file_chunks(upload: Any) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


async def admin_file_storage_report(
    ctx: RequestContext, input: AdminFileStorageReportInput
) -> AdminFileStorageReportPayload:
    """Storage used per user and per source (deduplicated bytes), and uploads in progress."""
    if not 1 <= input.limit <= 1000:
        raise bad_input("limit must be 1..1000", field="limit")
    user_id = parse_id(input.user_id, "userId") if input.user_id is not None else None
    report = await ctx.services.file_lifecycle.report(user_id=user_id, limit=input.limit)
    return AdminFileStorageReportPayload.from_report(report)


async def admin_file_sweep(ctx: RequestContext) -> AdminFileSweepPayload:
    """Run the file sweeper now: expired uploads, unattached and released files, unused bytes."""
    result = await ctx.services.file_lifecycle.sweep()
    return AdminFileSweepPayload(
        expired_uploads=result.expired_uploads,
        published_late=result.published_late,
        deleted_files=result.deleted_files,
        deleted_blobs=result.deleted_blobs,
    )


OPERATIONS = [
    mutation("file/request_upload_token", file_request_upload_token, rate_limit="300/minute", audience=Audience.SELF),
    query("file/validate_token", file_validate_token, audience=Audience.USER),
    mutation("file/upload_callback", file_upload_callback, audience=Audience.SELF),
    query("file/get_url", file_get_url, audience=Audience.MEMBER),
    query("file/info", file_info, audience=Audience.MEMBER),
    mutation("file/upload", file_upload, rate_limit="300/minute", audience=Audience.SELF),
    query("admin/file/storage_report", admin_file_storage_report, auth=Auth.ADMIN),
    mutation("admin/file/sweep", admin_file_sweep, auth=Auth.ADMIN),
]
