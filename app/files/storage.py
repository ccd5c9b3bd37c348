"""Storage sources: where published bytes live ([[file.storage_sources]]).

`local`: a directory under the data dir, sharded by the first bytes of the sha256
(`ab/cd/<sha256>-<nonce>`); a file appears there only by an atomic rename of a
complete file. `s3`: an S3-compatible bucket through aioboto3 (one client per source),
multipart for large files. A request body is never a part held in memory: it is a
window on the staged file (`FileRange`) that botocore hashes and aiohttp sends in their
own small reads, so memory stays flat however large the parts and however many uploads
run at once; S3_REQUESTS_IN_FLIGHT bounds the concurrent requests of the process. Keys
carry a nonce so that deleting one blob can never remove the bytes of a newer blob of
the same content.

Both stream reads in bounded chunks. A source that cannot be reached raises
`StorageUnavailable`: the caller keeps what it has and retries later.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio

from app.config import Settings, StorageSourceSettings

log = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024
# Uploads (put_object / upload_part) in flight to one S3 source: each holds a connection
# and a few read buffers (FileRange), never a whole part.
S3_REQUESTS_IN_FLIGHT = 4


class StorageUnavailable(Exception):
    """The source could not be reached or refused the operation; retry later."""


class DownloadRedirect(Protocol):
    """A source whose downloads may go straight to it: a URL that serves the bytes itself."""

    async def presigned_url(self, key: str, *, content_type: str, disposition: str, expires_in: int) -> str: ...


class Source(Protocol):
    id: int
    kind: str
    # Set when downloads answer with a redirect to the source (S3 with `presigned_redirect`).
    redirect: DownloadRedirect | None
    # Look the content up before storing it: True when storing moves the bytes (S3), so
    # a blob already there saves the transfer; False when storing is a hard link, cheaper
    # than the look-up (the publishing transaction still finds a duplicate, and drops it).
    lookup_before_put: bool

    def new_key(self, sha256: str) -> str: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put_file(self, key: str, path: Path, size: int) -> None:
        """Store the complete file at `path` under `key`; `path` itself stays (the caller
        removes it once the blob is recorded)."""
        ...

    def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes start..end (inclusive) in bounded chunks."""
        ...

    async def delete(self, key: str) -> None: ...


def shard_key(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}-{secrets.token_hex(4)}"


class FileRange(io.RawIOBase):
    """`length` bytes of an open file from `start`, as a seekable read-only stream (an S3
    request body): reads are `pread`s of the size the reader asks for (botocore hashes 1
    MiB at a time, aiohttp sends 256 KiB at a time), so the range is never in memory
    whole. Seeking to 0 goes back to `start` (botocore rewinds a body to retry it). The
    file descriptor stays the caller's."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        super().__init__()
        self._fd = fd
        self._start = start
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            base = 0
        elif whence == io.SEEK_CUR:
            base = self._position
        elif whence == io.SEEK_END:
            base = self._length
        else:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        remaining = max(0, self._length - self._position)
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        if wanted == 0:
            return b""
        data = os.pread(self._fd, wanted, self._start + self._position)
        if not data:
            raise OSError(f"the file ended {self._length - self._position} bytes early")
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class LocalSource:
    kind = "local"
    redirect: DownloadRedirect | None = None

    def __init__(self, config: StorageSourceSettings, data_dir: Path) -> None:
        self.id = config.id
        self.data_dir = data_dir
        root = Path(config.path)
        self.root = (root if root.is_absolute() else data_dir / root).resolve()
        # Staged uploads (under data_dir) are hard-linked here when both share a file
        # system: then a look-up costs more than storing. Found out at start.
        self.lookup_before_put = True

    def new_key(self, sha256: str) -> str:
        return shard_key(sha256)

    def path_of(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:  # keys are ours, but never trust a path join
            raise ValueError(f"bad storage key {key!r}")
        return path

    async def start(self) -> None:
        def prepare() -> bool:
            self.root.mkdir(parents=True, exist_ok=True)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return self.root.stat().st_dev != self.data_dir.stat().st_dev

        self.lookup_before_put = await anyio.to_thread.run_sync(prepare)

    async def close(self) -> None:
        return None

    async def put_file(self, key: str, path: Path, size: int) -> None:
        target = self.path_of(key)

        def put() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                # A hard link is atomic and copies nothing: the file is there whole or not at all.
                os.link(path, target)
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
            # Another file system: copy beside the target, then rename (atomic as well).
            temporary = target.with_name(target.name + ".tmp-" + secrets.token_hex(4))
            try:
                shutil.copyfile(path, temporary)
                os.replace(temporary, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temporary.unlink()

        try:
            await anyio.to_thread.run_sync(put)
        except OSError as exc:
            raise StorageUnavailable(f"local storage {self.id}: {exc.strerror or exc}") from exc

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:  # type: ignore[override]
        remaining = end - start + 1
        try:
            async with await anyio.open_file(self.path_of(key), "rb") as f:
                await f.seek(start)
                while remaining > 0:
                    chunk = await f.read(min(READ_CHUNK, remaining))
                    if not chunk:
                        raise StorageUnavailable(f"local storage {self.id}: {key} is shorter than recorded")
                    remaining -= len(chunk)
                    yield chunk
        except FileNotFoundError as exc:
            raise StorageUnavailable(f"local storage {self.id}: {key} is missing") from exc

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


class S3Source:
    kind = "s3"
    lookup_before_put = True

    def __init__(self, config: StorageSourceSettings) -> None:
        import aioboto3

        self.id = config.id
        self.config = config
        self.bucket = config.bucket or ""
        self.prefix = config.path.strip("/")
        self.redirect: DownloadRedirect | None = self if config.presigned_redirect else None
        self._session = aioboto3.Session()
        # Credentials: the standard AWS variables / files / instance roles (never our config).
        self._client_config = s3_client_config(config)
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._requests = asyncio.Semaphore(S3_REQUESTS_IN_FLIGHT)

    def new_key(self, sha256: str) -> str:
        key = shard_key(sha256)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def start(self) -> None:
        # Making the client reads botocore's service models (most of a second), and makes
        # no connection: done now, not on the first upload. Should it fail, the first use
        # tries again: a source must never stop the server.
        try:
            await self._s3()
        except Exception:
            log.warning("s3 storage %s: client not made; trying again on first use", self.id, exc_info=True)

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._stack.enter_async_context(
                        self._session.client(
                            "s3",
                            endpoint_url=self.config.endpoint_url,
                            region_name=self.config.region,
                            config=self._client_config,
                        )
                    )
        return self._client

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    def _unavailable(self, exc: Exception) -> StorageUnavailable:
        return StorageUnavailable(f"s3 storage {self.id} ({self.bucket}): {type(exc).__name__}: {exc}")

    async def put_file(self, key: str, path: Path, size: int) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            s3 = await self._s3()
            fd = await anyio.to_thread.run_sync(os.open, path, os.O_RDONLY)
            try:
                if size < self.config.multipart_threshold_bytes:
                    async with self._requests:
                        await s3.put_object(
                            Bucket=self.bucket, Key=key, Body=FileRange(fd, 0, size), ContentLength=size
                        )
                else:
                    await self._multipart(s3, key, fd, size)
            finally:
                os.close(fd)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def _multipart(self, s3: Any, key: str, fd: int, size: int) -> None:
        """Parts one after another (each streamed from the file); an interrupted upload is
        aborted, so the bucket keeps no parts of it."""
        from botocore.exceptions import BotoCoreError, ClientError

        part_size = self.config.multipart_part_bytes
        upload = await s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        parts = []
        try:
            for number, start in enumerate(range(0, size, part_size), start=1):
                length = min(part_size, size - start)
                async with self._requests:
                    answer = await s3.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=FileRange(fd, start, length),
                        ContentLength=length,
                    )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
            await s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(BotoCoreError, ClientError, OSError):
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:  # type: ignore[override]
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            s3 = await self._s3()
            answer = await s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from exc
        body = answer["Body"]
        try:
            while True:
                chunk = await body.read(READ_CHUNK)
                if not chunk:
                    break
                yield chunk
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._unavailable(exc) from exc
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            s3 = await self._s3()
            await s3.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from exc

    async def presigned_url(self, key: str, *, content_type: str, disposition: str, expires_in: int) -> str:
        s3 = await self._s3()
        url: str = await s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=expires_in,
        )
        return url


def s3_client_config(config: StorageSourceSettings) -> Any:
    from botocore.config import Config

    return Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        signature_version="s3v4",
        s3={"addressing_style": "path"} if config.endpoint_url else None,
    )


def presigned_origin(config: StorageSourceSettings) -> str | None:
    """The origin (`scheme://host[:port]`) that downloads from this source redirect to, or
    None when they do not redirect. A page that shows files from the files door must also
    allow it: the browser checks a redirect's target too (app/webclient.py's CSP).

    Asked of botocore itself, with the client settings the source uses (presigning is
    local: throwaway credentials, no request), so it is the host AWS (virtual-hosted or
    regional, by bucket name and region) or the configured endpoint really gives."""
    if config.kind != "s3" or not config.presigned_redirect:
        return None
    import botocore.session

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        config=s3_client_config(config),
        aws_access_key_id="origin-only",
        aws_secret_access_key="origin-only",
    )
    url = client.generate_presigned_url("get_object", Params={"Bucket": config.bucket, "Key": "k"}, ExpiresIn=60)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def build_sources(settings: Settings) -> dict[int, Source]:
    sources: dict[int, Source] = {}
    for config in settings.file.storage_sources:
        if config.kind == "local":
            sources[config.id] = LocalSource(config, settings.data_dir)
        else:
            sources[config.id] = S3Source(config)
    return sources
