"""The files door on the service port (9083), under /api/app/files:

    POST    /uploads/{token}   tus creation (with `Tus-Resumable`), or a multipart/form-data upload
    PUT     /uploads/{token}   the whole file as the body
    OPTIONS /uploads/{token}, /tus/{key}   tus discovery (versions, extensions, max size)
    HEAD    /tus/{key}         tus offset
    PATCH   /tus/{key}         tus bytes at an offset (the last one publishes the file)
    DELETE  /tus/{key}         tus termination
    GET/HEAD /{fileId}         download: `Authorization: Bearer`, or a signed link (file/get_url)

Only HTTP is handled here (headers, statuses, streaming); every rule is FileService's.
Errors are JSON `{"error": {"code", "message"}}` with the status of the error code.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import functools
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.errors import HTTP_STATUS, AppError, ErrorCode
from app.files.names import content_disposition
from app.files.service import Download, FileService
from app.files.staging import WRITE_BUFFER
from app.files.storage import StorageUnavailable

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
# Shown inline (images, audio, video); anything else is a download, never rendered as a page.
INLINE_TYPES = re.compile(r"^(image/(jpeg|png|gif|webp)|audio/[a-z0-9.+-]+|video/[a-z0-9.+-]+)\Z")
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)\Z")
MULTIPART_OVERHEAD = 64 * 1024
TUS_HEADERS = [
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Concat",
    "X-HTTP-Method-Override",
    "X-Requested-With",
]
EXPOSED = [
    "Location",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "ETag",
    "Content-Range",
    "Content-Disposition",
    "Content-Length",
    "Accept-Ranges",
]


# What the built-in web client needs of this port, and nothing more: tus uploads (its
# images and downloads are <img src> and links, which need no CORS).
WEB_CLIENT_METHODS = ["POST", "HEAD", "PATCH", "DELETE"]
WEB_CLIENT_HEADERS = ["content-type", "tus-resumable", "upload-length", "upload-offset", "upload-metadata"]
WEB_CLIENT_EXPOSED = ["Location", "Upload-Offset", "Upload-Length"]  # all that tus-js-client reads
UPLOAD_PATH_RE = re.compile(r"/(uploads|tus)/[^/]+\Z")


class WebClientCors:
    """CORS for the web client this server serves at /app/ on its client port: the page's
    origin is `http://<the host called>:<http.ws_port>`, another origin than this port's.
    That origin (and only it) may make tus uploads here; anything else goes to `app`
    (which applies `http.cors_origins`, when configured). No credentials: upload URLs
    carry their own token."""

    def __init__(self, app: ASGIApp, *, ws_port: int) -> None:
        self.app = app
        self.ws_port = ws_port

    @functools.lru_cache(maxsize=16)  # noqa: B019 - a handful of host names, for the life of the process
    def _cors_for(self, origin: str) -> ASGIApp:
        return CORSMiddleware(
            self.app,
            allow_origins=[origin],
            allow_methods=WEB_CLIENT_METHODS,
            allow_headers=WEB_CLIENT_HEADERS,
            expose_headers=WEB_CLIENT_EXPOSED,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and UPLOAD_PATH_RE.search(scope["path"]):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            name = host.split("]", 1)[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
            if origin and name and origin == f"http://{name}:{self.ws_port}":
                await self._cors_for(origin)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def file_routes(settings: Settings, files: FileService, authenticate: Any) -> list[BaseRoute]:
    """`authenticate(token) -> Principal` is the devices service's bearer check."""
    door = FilesDoor(files, authenticate)
    routes: list[BaseRoute] = [
        Route("/uploads/{token}", door.uploads, methods=["POST", "PUT", "OPTIONS"]),
        Route("/tus/{key}", door.tus, methods=["HEAD", "PATCH", "DELETE", "POST", "OPTIONS"]),
        Route("/{file_id}", door.download, methods=["GET", "HEAD"]),
    ]
    middleware = []
    if settings.http.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.http.cors_origins,
                allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["authorization", "content-type", "range", "if-none-match", "if-range", *TUS_HEADERS],
                expose_headers=EXPOSED,
                max_age=86400,
            )
        )
    if settings.http.web_client:
        # Outermost: a configured CORSMiddleware would refuse the page's preflight.
        middleware.insert(0, Middleware(WebClientCors, ws_port=settings.http.ws_port))
    return [Mount("/api/app/files", routes=routes, middleware=middleware)]


def host_of(request: Request) -> str | None:
    """The host name (without port) the client called."""
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host else None


def http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def error_response(exc: AppError, **headers: str) -> JSONResponse:
    status = HTTP_STATUS.get(exc.code, 500)
    if exc.code is ErrorCode.CONFLICT and exc.details.get("busy"):
        status = 423  # Locked: another request is writing this upload
    if exc.code is ErrorCode.UNAVAILABLE:
        headers.setdefault("Retry-After", "30")
    body: dict[str, Any] = {"error": {"code": exc.code.value, "message": exc.message}}
    details = {k: v for k, v in exc.details.items() if k != "busy"}
    if details:
        body["error"]["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _int_header(request: Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 18:
        raise AppError(ErrorCode.BAD_USER_INPUT, f"{name} must be a non-negative integer")
    return int(raw)


def parse_upload_metadata(raw: str | None) -> dict[str, str]:
    """tus Upload-Metadata: `key base64value, key2` (values are informational here)."""
    out: dict[str, str] = {}
    if not raw:
        return out
    for pair in raw.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not re.match(r"^[\x21-\x2b\x2d-\x7e]+\Z", parts[0]):
            raise AppError(ErrorCode.BAD_USER_INPUT, "Upload-Metadata is malformed")
        try:
            value = base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise AppError(ErrorCode.BAD_USER_INPUT, f"Upload-Metadata value of {parts[0]} is not base64") from None
        out[parts[0]] = value
    return out


class FilesDoor:
    def __init__(self, files: FileService, authenticate: Any) -> None:
        self.files = files
        self.authenticate = authenticate

    def _discovery(self) -> Response:
        return Response(
            status_code=204,
            headers={
                "Tus-Resumable": TUS_VERSION,
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(self.files.config.max_upload_bytes),
            },
        )

    @staticmethod
    def _tus_version_ok(request: Request) -> bool:
        return request.headers.get("tus-resumable") == TUS_VERSION

    # -- /uploads/{token} ---------------------------------------------------------------------

    async def uploads(self, request: Request) -> Response:
        token = request.path_params["token"]
        method = request.method
        try:
            if method == "OPTIONS":
                return self._discovery()
            if method == "POST" and "tus-resumable" in request.headers:
                return await self._tus_create(request, token)
            if method == "POST":
                return await self._multipart(request, token)
            length = _int_header(request, "content-length")
            record = await self.files.put_whole(token, _body(request), content_length=length)
            return JSONResponse({"file": file_json(record)})
        except AppError as exc:
            return error_response(exc, **({"Tus-Resumable": TUS_VERSION} if "tus-resumable" in request.headers else {}))
        except ClientDisconnect:
            return Response(status_code=400)

    async def _tus_create(self, request: Request, token: str) -> Response:
        if not self._tus_version_ok(request):
            return Response(status_code=412, headers={"Tus-Version": TUS_VERSION})
        if "upload-defer-length" in request.headers or "upload-concat" in request.headers:
            raise AppError(ErrorCode.BAD_USER_INPUT, "deferred lengths and concatenation are not supported")
        parse_upload_metadata(request.headers.get("upload-metadata"))
        length = _int_header(request, "upload-length")
        location, record = await self.files.tus_create(token, length, host_of(request))
        headers = _tus_headers(Location=location, **{"Upload-Expires": http_date(record.expires_at / 1000)})
        body_length = _int_header(request, "content-length") or 0
        if body_length or "chunked" in request.headers.get("transfer-encoding", ""):
            if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_STREAM:
                raise AppError(ErrorCode.BAD_USER_INPUT, f"creation with upload needs Content-Type {OFFSET_STREAM}")
            key = location.rsplit("/", 1)[1]
            state = await self.files.tus_patch(key, 0, _body(request), content_length=body_length or None)
            headers["Upload-Offset"] = str(state.offset)
        return Response(status_code=201, headers=headers)

    async def _multipart(self, request: Request, token: str) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise AppError(
                ErrorCode.BAD_USER_INPUT,
                "POST a multipart/form-data body with a `file` part, or use tus (Tus-Resumable) or PUT",
            )
        state = await self.files.validate_token(token)
        length = _int_header(request, "content-length")
        if length is None:
            return error_response(AppError(ErrorCode.BAD_USER_INPUT, "Content-Length is required"))
        if length > state.file.declared_size + MULTIPART_OVERHEAD:
            raise AppError(ErrorCode.PAYLOAD_TOO_LARGE, f"the upload is {state.file.declared_size} bytes")
        try:
            async with request.form(max_files=1, max_fields=8) as form:
                part = form.get("file")
                if part is None or isinstance(part, str):
                    raise AppError(ErrorCode.BAD_USER_INPUT, "the form has no `file` part")
                record = await self.files.put_whole(token, _upload_chunks(part), content_length=part.size)
        except (MultiPartException, HTTPException) as exc:
            detail = exc.detail if isinstance(exc, HTTPException) else exc.message
            raise AppError(ErrorCode.BAD_USER_INPUT, f"the multipart body is malformed: {detail}") from None
        return JSONResponse({"file": file_json(record)})

    # -- /tus/{key} -----------------------------------------------------------------------------

    async def tus(self, request: Request) -> Response:
        key = request.path_params["key"]
        method = request.method
        override = request.headers.get("x-http-method-override", "").upper()
        if method == "POST" and override in ("PATCH", "DELETE", "HEAD"):
            method = override
        if method == "OPTIONS":
            return self._discovery()
        if not self._tus_version_ok(request):
            return Response(status_code=412, headers={"Tus-Version": TUS_VERSION, "Tus-Resumable": TUS_VERSION})
        try:
            if method == "HEAD":
                state = await self.files.tus_state(key)
                headers = _tus_headers(
                    **{"Upload-Offset": str(state.offset), "Upload-Length": str(state.file.declared_size)}
                )
                if state.file.status == "pending":
                    headers["Upload-Expires"] = http_date(state.file.expires_at / 1000)
                return Response(status_code=200, headers=headers)
            if method == "DELETE":
                await self.files.tus_terminate(key)
                return Response(status_code=204, headers=_tus_headers())
            if method != "PATCH":
                return Response(status_code=405, headers=_tus_headers(Allow="HEAD, PATCH, DELETE, OPTIONS"))
            if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_STREAM:
                problem = {
                    "code": ErrorCode.BAD_USER_INPUT.value,
                    "message": f"PATCH needs Content-Type {OFFSET_STREAM}",
                }
                return JSONResponse({"error": problem}, status_code=415, headers=_tus_headers())
            offset = _int_header(request, "upload-offset")
            if offset is None:
                raise AppError(ErrorCode.BAD_USER_INPUT, "Upload-Offset is required")
            length = _int_header(request, "content-length")
            state = await self.files.tus_patch(key, offset, _body(request), content_length=length)
            headers = _tus_headers(**{"Upload-Offset": str(state.offset)})
            if state.file.status == "pending":
                headers["Upload-Expires"] = http_date(state.file.expires_at / 1000)
            else:
                headers["X-File-Id"] = state.file.id
            return Response(status_code=204, headers=headers)
        except AppError as exc:
            return error_response(exc, **_tus_headers())
        except ClientDisconnect:
            return Response(status_code=400, headers=_tus_headers())

    # -- /{fileId} ------------------------------------------------------------------------------

    async def download(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        try:
            user_id, is_admin, signed_until = await self._reader(request, file_id)
            found = await self.files.open_download(file_id=file_id, user_id=user_id, is_admin=is_admin)
            return await self._serve(request, found, signed_until)
        except AppError as exc:
            return error_response(exc, **{"Cache-Control": "no-store"})
        except StorageUnavailable as exc:
            log.warning("download of %s failed: %s", file_id, exc)
            return error_response(AppError(ErrorCode.UNAVAILABLE, "file storage is unavailable; try again later"))

    async def _reader(self, request: Request, file_id: str) -> tuple[int, bool, int | None]:
        params = request.query_params
        if "s" in params:
            user = self.files.tokens.check_download(
                file_id, params.get("u", ""), params.get("e", ""), params.get("s", ""), now=time.time()
            )
            return user, False, int(params["e"])
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AppError(
                ErrorCode.UNAUTHENTICATED, "send Authorization: Bearer <token>, or use a link from file/get_url"
            )
        principal = await self.authenticate(token.strip())
        return principal.user_id, principal.is_admin, None

    async def _serve(self, request: Request, found: Download, signed_until: int | None) -> Response:
        record, blob = found.file, found.blob
        size = blob.size
        mime = record.mime or "application/octet-stream"
        inline = bool(INLINE_TYPES.match(mime))
        content_type = mime if inline else "application/octet-stream"
        disposition = content_disposition(record.name, inline=inline)
        max_age = 86400 if signed_until is None else max(0, min(86400, signed_until - int(time.time())))
        headers = {
            "ETag": f'"{blob.sha256}"',
            "Cache-Control": f"private, max-age={max_age}",
            "Accept-Ranges": "bytes",
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Vary": "Authorization",
        }
        if found.source.redirect is not None:
            url = await found.source.redirect.presigned_url(
                blob.key, content_type=content_type, disposition=disposition, expires_in=300
            )
            return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
        if _etag_matches(request.headers.get("if-none-match"), blob.sha256):
            return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control", "Vary")})
        start, end = 0, size - 1
        status = 200
        range_header = request.headers.get("range")
        if range_header and size > 0 and _if_range_ok(request.headers.get("if-range"), blob.sha256):
            parsed = _parse_range(range_header, size)
            if parsed is None:
                return Response(
                    status_code=416,
                    headers={**headers, "Content-Range": f"bytes */{size}", "Content-Type": content_type},
                )
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1 if size > 0 else 0
        headers["Content-Length"] = str(length)
        if request.method == "HEAD" or length == 0:
            return Response(status_code=status, headers=headers, media_type=content_type)
        stream = found.source.read(blob.key, start, end)
        first = await anext(stream)  # a source that is down fails here, before any header is sent
        return StreamingResponse(_prepend(first, stream), status_code=status, headers=headers, media_type=content_type)


def _etag_matches(header: str | None, sha256: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return f'"{sha256}"' in tags


def _if_range_ok(header: str | None, sha256: str) -> bool:
    """If-Range with our ETag (or absent) keeps the Range; a date or another tag sends all."""
    return header is None or header.strip() == f'"{sha256}"'


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One byte range (RFC 9110); None when unsatisfiable. Several ranges: the first one
    that is satisfiable would do, but clients never need it: the whole range list is
    answered with its first range."""
    first = header.split(",", 1)[0].strip()
    match = RANGE_RE.match(first)
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    if not match.group(1):  # the last N bytes
        suffix = int(match.group(2))
        if suffix == 0:
            return None
        return max(0, size - suffix), size - 1
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _upload_chunks(part: Any) -> AsyncIterator[bytes]:
    while chunk := await part.read(WRITE_BUFFER):
        yield chunk


def file_json(record: Any) -> dict[str, Any]:
    """A published file as the HTTP door reports it (the GraphQL `FileInfo` fields)."""
    return {
        "id": record.id,
        "name": record.name,
        "size": record.size,
        "mimeType": record.mime,
        "purpose": record.purpose.upper(),
        "status": record.status.upper(),
        "width": record.width,
        "height": record.height,
        "blurhash": record.blurhash,
        "thumbnailFileId": record.thumbnail_id,
        "sha256": record.sha256,
    }
