"""FileRange: a window on a file as a seekable stream (an S3 request body)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from app.files.storage import FileRange


def test_a_range_reads_only_its_window_in_the_sizes_asked(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    fd = os.open(path, os.O_RDONLY)
    try:
        body = FileRange(fd, 1000, 3000)
        assert body.read(100) == path.read_bytes()[1000:1100] and body.tell() == 100
        assert len(body.read(10_000)) == 2900  # never past the window
        assert body.read(1) == b"" and body.read() == b""
        assert body.seek(0) == 0 and body.read() == path.read_bytes()[1000:4000]  # a retry rewinds
        # botocore's content length: seek to the end and tell
        assert body.seek(0, io.SEEK_END) == 3000 and body.seek(-10, io.SEEK_CUR) == 2990
        buffer = bytearray(64)
        assert body.readinto(buffer) == 10 and bytes(buffer[:10]) == path.read_bytes()[3990:4000]
        with pytest.raises(ValueError):
            body.seek(-1)
        with pytest.raises(io.UnsupportedOperation):
            body.fileno()  # so no one sizes the body by the whole file
    finally:
        os.close(fd)


def test_a_file_shorter_than_its_range_is_an_error_not_a_short_body(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:
        body = FileRange(fd, 50, 100)
        assert body.read(50) == b"x" * 50
        with pytest.raises(OSError, match="ended 50 bytes early"):
            body.read(10)
    finally:
        os.close(fd)
