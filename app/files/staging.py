"""Bytes of uploads in progress: one `.part` file per upload under `<data_dir>/uploads`.

The file's length is the upload's offset (tus HEAD), so whatever reached the disk before
a connection dropped counts and the client resumes from there. One writer at a time per
upload, across processes too: an exclusive `flock` on the part file, taken without
waiting (a concurrent PATCH is refused, not queued). Bytes are hashed as they arrive;
the running hash is kept in memory while it is known to cover the whole file, so a file
sent in one go is never read twice. Chunks are gathered in 1 MiB blocks; a block is
written by a worker thread and hashed by another at the same time, while the next block
is received (`_BlockWriter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

WRITE_BUFFER = 1024 * 1024
HASH_CHUNK = 1024 * 1024
# Threads that hash blocks while the worker threads write them (hashing is CPU work: more
# threads than cores would not hash faster). A block waits for its hash before its
# writer returns, so at most one block per upload is being hashed.
HASH_THREADS = max(2, min(4, os.cpu_count() or 2))
_hashing = futures.ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="upload-hash")


class UploadBusy(Exception):
    """Another request is writing this upload."""


class UploadGone(Exception):
    """This node holds no bytes of the upload (expired and swept, terminated, or staged on another node)."""


class TooLarge(Exception):
    """More bytes arrived than the upload's declared length."""


@dataclass
class _RunningHash:
    offset: int
    hasher: Any = field(default_factory=hashlib.sha256)


class Staging:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._hashes: dict[str, _RunningHash] = {}

    def path(self, file_id: str) -> Path:
        return self.root / f"{file_id}.part"

    def offset(self, file_id: str) -> int | None:
        """Bytes received so far, or None when this node holds no such upload."""
        try:
            return self.path(file_id).stat().st_size
        except FileNotFoundError:
            return None

    async def create(self, file_id: str) -> None:
        def touch() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            self.path(file_id).touch(exist_ok=True)

        await anyio.to_thread.run_sync(touch)

    @contextlib.contextmanager
    def _locked(self, file_id: str) -> Iterator[int]:
        try:
            fd = os.open(self.path(file_id), os.O_RDWR)
        except FileNotFoundError:
            raise UploadGone(file_id) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy(file_id) from None
            yield fd
        finally:
            os.close(fd)  # releases the lock

    async def append(self, file_id: str, offset: int, length: int, chunks: AsyncIterator[bytes]) -> int:
        """Write `chunks` at `offset` (which must be the current length: checked under the
        lock); returns the new offset. Stops with TooLarge, keeping nothing of this
        request, when the upload would grow beyond `length`. A dropped connection keeps
        what was written.

        The chunks are gathered into blocks of WRITE_BUFFER bytes; a block is written and
        hashed in a worker thread while the next one is received (at most one block in
        the thread and one filling: 2 x WRITE_BUFFER per upload), so the disk and the
        hash never hold the socket up, and the thread is handed one block per MiB, not
        one chunk."""
        with self._locked(file_id) as fd:
            current = os.fstat(fd).st_size
            if current != offset:
                raise OffsetMismatch(current)
            running = self._hashes.pop(file_id, None)
            if running is None or running.offset != offset:
                running = _RunningHash(offset) if offset == 0 else None
            writer = _BlockWriter(fd, offset, running.hasher if running is not None else None)
            received = offset
            try:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > length:
                        raise TooLarge()
                    await writer.add(chunk)
            except TooLarge:
                await writer.discard()
                os.ftruncate(fd, offset)
                raise
            finally:
                # Whatever arrived before a disconnect is kept (tus resumes from it); the
                # thread is waited for before the file is closed, even when cancelled.
                await writer.close()
                if running is not None and writer.failed is None and writer.written == received:
                    running.offset = writer.written
                    self._hashes[file_id] = running
            return writer.written

    async def reset(self, file_id: str) -> None:
        """Start the upload over (a whole-file request replaces what an earlier one left)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.path(file_id).touch(exist_ok=True)
        with self._locked(file_id) as fd:
            os.ftruncate(fd, 0)
            self._hashes.pop(file_id, None)

    def known_sha256(self, file_id: str, size: int) -> str | None:
        running = self._hashes.get(file_id)
        if running is not None and running.offset == size:
            return str(running.hasher.hexdigest())
        return None

    async def sha256(self, file_id: str) -> tuple[str, int]:
        """The sha256 and size of the staged bytes (from the running hash when it covers them)."""
        path = self.path(file_id)
        size = self.offset(file_id) or 0
        known = self.known_sha256(file_id, size)
        if known is not None:
            return known, size
        return await hash_file(path)

    async def remove(self, file_id: str) -> None:
        self._hashes.pop(file_id, None)
        path = self.path(file_id)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    def forget(self, file_id: str) -> None:
        self._hashes.pop(file_id, None)

    @contextlib.contextmanager
    def exclusive(self, file_id: str) -> Iterator[None]:
        """Hold the upload's lock (finalising, terminating): writers are refused meanwhile."""
        with self._locked(file_id):
            yield


class _BlockWriter:
    """Chunks to one open file in WRITE_BUFFER blocks, each written (pwritev: the chunks go
    to the kernel as they came, with no join of ours) in a worker thread, and hashed at
    the same time in a hashing thread, while the next block fills. Blocks are written in
    order, one at a time.

    One hand-off from the event loop per block, not two: each one costs the loop more
    than its own few calls (measured: a worker thread hop per MiB added ~0.4 ms of the
    loop's CPU per MB received), and the loop is what bounds an upload."""

    def __init__(self, fd: int, offset: int, hasher: Any) -> None:
        self.fd = fd
        self.written = offset  # bytes in the file
        self.hasher = hasher  # None: the running hash is not kept (it does not cover the file)
        self.failed: BaseException | None = None
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._flushing: asyncio.Future[int] | None = None

    async def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= WRITE_BUFFER:
            await self._settle()  # the previous block is written: at most one in the thread
            self._start()

    async def discard(self) -> None:
        """Drop what was not written yet (the caller truncates)."""
        self._pending, self._pending_size = [], 0
        self.hasher = None
        await self._settle()

    async def close(self) -> None:
        """Write the rest and wait for the thread. Raises the first write error (also
        kept in `failed`)."""
        try:
            await self._settle()
            if self._pending and self.failed is None:
                self._start()
                await self._settle()
        finally:
            self._pending, self._pending_size = [], 0

    def _start(self) -> None:
        parts, at, hasher = self._pending, self.written, self.hasher
        self._pending, self._pending_size = [], 0
        self._flushing = asyncio.ensure_future(anyio.to_thread.run_sync(_write_block, self.fd, parts, at, hasher))

    async def _settle(self) -> None:
        flushing, self._flushing = self._flushing, None
        if flushing is None:
            return
        try:
            self.written += await _unstoppable(flushing)
        except BaseException as exc:
            # A failed write (or a cancelled request): nothing more is written, and the
            # running hash no longer matches what is known to be in the file.
            self.failed = self.failed or exc
            self.hasher = None
            raise


async def _unstoppable(future: asyncio.Future[int]) -> int:
    """The result of a thread's work, waited for even when the caller is cancelled (a thread
    cannot be stopped, and the file it writes must not be closed under it); the
    cancellation is raised once the work is over."""
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError()
        return result


def _write_block(fd: int, parts: list[bytes], at: int, hasher: Any) -> int:
    """One block at `at`, and into the running hash in a hashing thread meanwhile (both
    release the GIL): the block takes the longer of the two, not their sum. Returns once
    both are done (the hash's error, if any, is raised after the write is over); its size."""
    hashed = _hashing.submit(_hash_block, hasher, parts) if hasher is not None else None
    try:
        total = sum(len(p) for p in parts)
        done = os.pwritev(fd, parts, at)
        if done < total:  # a short write (rare on regular files): finish it plainly
            rest = memoryview(b"".join(parts))[done:]
            while rest:
                n = os.pwrite(fd, rest, at + done)
                done, rest = done + n, rest[n:]
    except BaseException:
        if hashed is not None:
            futures.wait([hashed])  # never left running: the caller drops the hasher
        raise
    if hashed is not None:
        hashed.result()
    return total


def _hash_block(hasher: Any, parts: list[bytes]) -> None:
    for part in parts:
        hasher.update(part)


class OffsetMismatch(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(f"the upload is at offset {current}")
        self.current = current


async def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of a file, read in a worker thread."""

    def run() -> tuple[str, int]:
        hasher = hashlib.sha256()
        size = 0
        with path.open("rb") as f:
            while chunk := f.read(HASH_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        return hasher.hexdigest(), size

    return await anyio.to_thread.run_sync(run)
