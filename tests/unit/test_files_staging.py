"""Staging.append: chunks written and hashed in 1 MiB blocks in a worker thread while the
next block is received; what a dropped, refused or cancelled request leaves behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.files import staging as staging_module
from app.files.staging import WRITE_BUFFER, Staging, TooLarge

CHUNK = 300_000  # not a divisor of the block size: blocks end mid-chunk


def pieces(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


async def feed(chunks: list[bytes], *, then: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk
    if then is not None:
        await then.wait()  # a client that stops sending


async def test_a_file_in_many_chunks_is_written_whole_and_hashed_once(tmp_path: Path) -> None:
    staged = Staging(tmp_path)
    await staged.create("f")
    data = os.urandom(5 * WRITE_BUFFER + 17)
    first = len(data) // 2
    assert await staged.append("f", 0, len(data), feed(pieces(data[:first]))) == first
    # a second request (tus PATCH) continues the running hash
    assert await staged.append("f", first, len(data), feed(pieces(data[first:]))) == len(data)
    assert staged.path("f").read_bytes() == data
    assert staged.known_sha256("f", len(data)) == hashlib.sha256(data).hexdigest()


async def test_too_many_bytes_keep_nothing_of_the_request(tmp_path: Path) -> None:
    staged = Staging(tmp_path)
    await staged.create("f")
    head = os.urandom(1000)
    await staged.append("f", 0, 4 * WRITE_BUFFER, feed([head]))
    with pytest.raises(TooLarge):
        await staged.append("f", 1000, 4 * WRITE_BUFFER, feed(pieces(os.urandom(4 * WRITE_BUFFER))))
    assert staged.path("f").read_bytes() == head  # blocks already written by the thread are cut off
    assert staged.known_sha256("f", 1000) is None


async def test_a_dropped_connection_keeps_every_byte_received(tmp_path: Path) -> None:
    staged = Staging(tmp_path)
    await staged.create("f")
    data = os.urandom(2 * WRITE_BUFFER + 5000)

    async def dropped() -> AsyncIterator[bytes]:
        async for chunk in feed(pieces(data)):
            yield chunk
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await staged.append("f", 0, 10 * WRITE_BUFFER, dropped())
    assert staged.path("f").read_bytes() == data  # the last, partial block too: tus resumes after it
    # and the running hash covers them: the resumed upload goes on hashing from there
    assert staged.known_sha256("f", len(data)) == hashlib.sha256(data).hexdigest()


async def test_a_cancelled_request_waits_for_the_thread_before_closing_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = Staging(tmp_path)
    await staged.create("f")
    data = os.urandom(3 * WRITE_BUFFER)
    writing = asyncio.Event()
    finished: list[int] = []
    write_block = staging_module._write_block

    def slow_block(fd: int, parts: list[bytes], at: int, hasher: object) -> int:
        loop.call_soon_threadsafe(writing.set)
        time.sleep(0.2)  # still writing when the request is cancelled
        done = write_block(fd, parts, at, hasher)
        finished.append(done)
        return done

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(staging_module, "_write_block", slow_block)
    task = asyncio.create_task(staged.append("f", 0, 10 * WRITE_BUFFER, feed(pieces(data), then=asyncio.Event())))
    await writing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the block in the thread was finished before the file was closed (no write to a
    # closed or reused descriptor), and what is in the file is the start of what was sent
    assert finished
    on_disk = staged.path("f").read_bytes()
    assert len(on_disk) >= finished[0] and on_disk == data[: len(on_disk)]
    known = staged.known_sha256("f", len(on_disk))
    assert known is None or known == hashlib.sha256(on_disk).hexdigest()


def test_a_block_is_hashed_while_written_and_a_failed_write_waits_for_its_hash(tmp_path: Path) -> None:
    seen: list[int] = []

    class SlowHasher:
        def update(self, part: bytes) -> None:
            time.sleep(0.05)
            seen.append(len(part))

    path = tmp_path / "f"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)  # writing through it fails (EBADF)
    try:
        with pytest.raises(OSError):
            staging_module._write_block(fd, [b"x" * 10, b"y" * 5], 0, SlowHasher())
    finally:
        os.close(fd)
    # the hashing thread had finished before the error was raised: the caller may drop
    # (or reuse) the hasher without a thread still feeding it
    assert seen == [10, 5]
