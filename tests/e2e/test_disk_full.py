"""SQLite with a full disk: writes refused with a typed, retryable error, reads keep
working, and writes work again once space returns (the data dir is a small tmpfs)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import backends
from tests.support.server import ServerProcess
from tests.support.sync_client import ClientError, SyncClient

pytestmark = pytest.mark.skipif(backends.IS_POSTGRES, reason="the SQLite data directory filling up")
PASSWORD = "disk-full-pass-1"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the file system."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (256 * 1024, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


async def test_a_full_disk_refuses_writes_with_a_typed_error_and_keeps_reads(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    server = ServerProcess(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'privchat.db'}")
    server.start()
    s = uuid.uuid4().hex[:6]
    ann = SyncClient(server.base_url, f"ann{s}", PASSWORD, "phone")
    bob = SyncClient(server.base_url, f"bob{s}", PASSWORD, "phone")
    try:
        for client in (ann, bob):
            await client.register()
            await client.login()
        channel = await bob.open_direct(ann.user_id or "")
        for i in range(5):
            await bob.send_text(channel, f"before-{i}")

        filler = fill(small_disk)
        # Writes are refused with UNAVAILABLE (retry later), never INTERNAL, and say nothing
        # about paths; longer messages make sure the database must grow.
        codes = set()
        for i in range(50):
            try:
                await bob.send_text(channel, f"full-{i}-" + "x" * 3000, client_msg_id=f"full-{i}")
            except ClientError as exc:
                codes.add(exc.code)
                assert str(data_dir) not in str(exc.errors)
        assert codes == {"UNAVAILABLE"}, codes
        # Reads keep working.
        await ann.sync()
        assert ann.texts(channel)[:5] == [f"before-{i}" for i in range(5)]

        filler.unlink()
        await bob.send_text(channel, "after")
        await ann.sync()
        assert ann.texts(channel)[-1] == "after"
        assert server.proc is not None and server.proc.poll() is None
    finally:
        await ann.close()
        await bob.close()
        server.stop()
