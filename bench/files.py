"""File upload and download throughput, server memory, thumbnail time (not a test; prints figures).

    .venv/bin/python -m bench.files                       # local and S3 (moto on 127.0.0.1), SQLite
    .venv/bin/python -m bench.files --backend postgres    # PostgreSQL + Redis
    .venv/bin/python -m bench.files --sizes 1,10 --no-s3  # quicker
    .venv/bin/python -m bench.files --sizes 100 --no-s3 --concurrency 0 --profile /tmp/prof
    .venv/bin/python -m bench.top_frames /tmp/prof/local.txt   # where the server's time goes

For each source (local; S3 = moto's server mode on 127.0.0.1) and size (MB), a real
server process takes a plain PUT of the file to its upload URL (timed until the file is
published: received, hashed, validated, stored) and serves it back with a GET, both made
by curl (a C client, so the figure is the server's, not a Python client's), next to the
raw ceiling measured in the same run on the same bytes: `cp` of the file for local (to a
new file kept until the size is measured, as the server keeps what it stores), a plain
aioboto3 put_object / get_object for S3. For local, also curl's own ceiling (the
same PUT into a bare socket that discards the bytes) and the server's CPU time per MB
received (user + system, less sensitive than MB/s to what else runs on the machine).
Each figure is the median of --repeat runs, each with new random bytes (no
deduplication helps).

Then the server's RSS while 10 clients upload 100 MB files at once, and while 10 download
them at once (growth over the RSS just before each phase, sampled every 20 ms), and the time to make a
thumbnail (and blurhash) of a 12-megapixel JPEG, and to strip its EXIF.
Targets (issue 12): throughput >= 50% of the raw ceiling; RSS growth < 64 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from bench.common import (
    Accounts,
    add_backend_argument,
    process_tree_cpu_seconds,
    rss_mib,
    running_server,
    start_py_spy,
    stop_py_spy,
)
from tests.support.s3 import CREDENTIALS, MotoServer

MB = 1_000_000
CHUNK = 1 << 20
REQUEST = "mutation($i: FileRequestUploadTokenInput!) { fileRequestUploadToken(input: $i) { fileId uploadUrl } }"


def random_file(directory: Path, size: int) -> Path:
    path = directory / f"{uuid.uuid4().hex}.bin"
    with path.open("wb") as f:
        block = os.urandom(CHUNK)
        written = 0
        while written < size:
            part = block[: min(CHUNK, size - written)]
            f.write(os.urandom(16) + part[16:])  # every MiB different: no two files share content
            written += len(part)
    return path


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk


async def curl(*args: str) -> float:
    """Run curl (a C client, so the client is not what is measured); its transfer time in s."""
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "-sS",
        "--fail-with-body",
        "-o",
        "/dev/null",
        "-w",
        "%{time_total}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"curl {args[-1]} failed: {err.decode()} {out.decode()}")
    return float(out.decode().strip())


async def upload(
    accounts: Accounts, token: str, path: Path, cpu: list[float] | None = None, pid: int | None = None
) -> tuple[str, float]:
    """A plain PUT of the file to its upload URL, timed until the file is published. With
    `cpu` and the server's `pid`, the server's CPU seconds during the PUT (not the token
    request) are added to `cpu`."""
    size = os.path.getsize(path)  # noqa: ASYNC240 - setup, not measured
    request = {"name": path.name, "size": size, "mime": "application/octet-stream", "purpose": "MESSAGE"}
    granted = (await accounts.gql(REQUEST, {"i": request}, token))["fileRequestUploadToken"]
    before = process_tree_cpu_seconds(pid) if pid else 0.0
    seconds = await curl("-T", str(path), granted["uploadUrl"])
    if cpu is not None and pid:
        cpu.append(process_tree_cpu_seconds(pid) - before)
    return granted["fileId"], seconds


async def download(url: str, token: str) -> float:
    return await curl("-H", f"authorization: Bearer {token}", url)


# The HTTP client's own ceiling: curl's PUT into a bare socket that reads into one reused
# 1 MiB buffer and throws the bytes away (no HTTP parsing, no hashing, no disk).
SOCKET_SINK = """
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
buffer = memoryview(bytearray(1 << 20))
while True:
    conn, _ = server.accept()
    head = b""
    while b"\\r\\n\\r\\n" not in head:
        head += conn.recv(65536)
    head, _, rest = head.partition(b"\\r\\n\\r\\n")
    lines = head.lower().split(b"\\r\\n")
    length = int(next(v for k, _, v in (line.partition(b":") for line in lines) if k == b"content-length"))
    if any(line.startswith(b"expect:") for line in lines):
        conn.sendall(b"HTTP/1.1 100 Continue\\r\\n\\r\\n")
    received = len(rest)
    while received < length:
        received += conn.recv_into(buffer)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\ncontent-length: 0\\r\\nconnection: close\\r\\n\\r\\n")
    conn.close()
"""


class SocketSink:
    async def __aenter__(self) -> SocketSink:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SOCKET_SINK, stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(await self.proc.stdout.readline())}/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.proc.kill()
        await self.proc.wait()

    async def seconds(self, path: Path) -> float:
        return await curl("-T", str(path), self.url)


def cp_seconds(path: Path, kept: list[Path]) -> float:
    """`cp` of the file to a new file, which is kept (added to `kept`, for the caller to
    delete once the size is measured), as the server keeps what it publishes: a copy
    deleted at once hands its page-cache pages straight to the next copy, and on a fresh
    virtual machine, writing into pages used before costs a fraction of writing into
    memory never touched (measured here: 0.35 against 2 ms of CPU per MB), which only the
    server would pay."""
    target = path.with_suffix(".copy")
    started = time.perf_counter()
    subprocess.run(["cp", str(path), str(target)], check=True)
    elapsed = time.perf_counter() - started
    kept.append(target)
    return elapsed


async def s3_seconds(endpoint: str, bucket: str, path: Path) -> tuple[float, float]:
    import aioboto3

    data = await asyncio.to_thread(path.read_bytes)
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=endpoint, region_name="us-east-1") as s3:
        key = f"raw/{path.name}"
        started = time.perf_counter()
        await s3.put_object(Bucket=bucket, Key=key, Body=data)
        put = time.perf_counter() - started
        started = time.perf_counter()
        answer = await s3.get_object(Bucket=bucket, Key=key)
        body = answer["Body"]
        while await body.read(CHUNK):
            pass
        get = time.perf_counter() - started
        await s3.delete_object(Bucket=bucket, Key=key)
    return put, get


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RssSampler:
        async def sample() -> None:
            while True:
                self.peak = max(self.peak, rss_mib(self.pid))
                await asyncio.sleep(0.02)

        self._task = asyncio.create_task(sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def measure_source(
    label: str, args: argparse.Namespace, extra_env: dict[str, str], raw: tuple[str, str] | None, work: Path
) -> dict:
    results: dict = {"source": label, "sizes": {}}
    env = {"PRIVCHAT_FILE__USER_QUOTA_BYTES": "0", **extra_env}
    async with running_server(args.backend, env) as server, SocketSink() as sink:
        accounts = Accounts(server)
        _, _, token = await accounts.user("bench")
        # One upload first: a process's first one pays one-time costs (worker threads, lazy
        # imports, the S3 client's first connection), which are no throughput.
        warm = random_file(work, MB)
        await upload(accounts, token, warm)
        warm.unlink()
        profiler = None
        if args.profile:
            name = label.split(" ")[0]
            profiler = start_py_spy(server, args.profile / f"{name}.txt", fmt=args.profile_format)
            await asyncio.sleep(1.0)  # py-spy attaches
        for size_mb in args.sizes:
            size = size_mb * MB
            ups, downs, raw_ups, raw_downs, sinks = [], [], [], [], []
            cpus: list[float] = []
            copies: list[Path] = []
            for _ in range(args.repeat):
                path = random_file(work, size)
                file_id, up = await upload(accounts, token, path, cpus, server.proc.pid if server.proc else None)
                down = await download(f"{server.service_url}/api/app/files/{file_id}", token)
                if label == "local":
                    raw_up = raw_down = cp_seconds(path, copies)
                    sinks.append(await sink.seconds(path))
                else:
                    assert raw is not None  # (S3 endpoint, bucket)
                    raw_up, raw_down = await s3_seconds(*raw, path)
                ups.append(up)
                downs.append(down)
                raw_ups.append(raw_up)
                raw_downs.append(raw_down)
                path.unlink()
            for copy in copies:
                copy.unlink()
            results["sizes"][size_mb] = {
                "upload_mb_s": size / MB / statistics.median(ups),
                "download_mb_s": size / MB / statistics.median(downs),
                "raw_up_mb_s": size / MB / statistics.median(raw_ups),
                "raw_down_mb_s": size / MB / statistics.median(raw_downs),
                "upload_cpu_ms_per_mb": statistics.median(cpus) * 1000 / (size / MB),
            }
            if sinks:
                results["sizes"][size_mb]["curl_to_socket_mb_s"] = size / MB / statistics.median(sinks)
        stop_py_spy(profiler)
        if args.concurrency:
            assert server.proc is not None
            pid = server.proc.pid
            paths = [random_file(work, 100 * MB) for _ in range(args.concurrency)]
            await asyncio.sleep(0.5)
            idle = rss_mib(pid)
            async with RssSampler(pid) as during_up:
                uploaded = await asyncio.gather(*(upload(accounts, token, p) for p in paths))
            await asyncio.sleep(0.5)
            before_down = rss_mib(pid)
            async with RssSampler(pid) as during_down:
                await asyncio.gather(
                    *(download(f"{server.service_url}/api/app/files/{fid}", token) for fid, _ in uploaded)
                )
            for p in paths:
                p.unlink()
            results["rss"] = {
                "idle_mib": idle,
                "upload_growth_mib": during_up.peak - idle,
                "before_download_mib": before_down,
                "download_growth_mib": during_down.peak - before_down,
            }
        await accounts.close()
    return results


def thumbnail_figures(work: Path, repeat: int) -> dict:
    from PIL import Image

    from app.files.media import inspect_image, make_thumbnail

    image = Image.effect_noise((4000, 3000), 40).convert("RGB")  # 12 MP, hard to compress
    exif = Image.Exif()
    exif[0x010F] = "Bench Camera"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0)})
    source = work / "12mp.jpg"
    image.save(source, "JPEG", quality=90, exif=exif.tobytes())
    thumbs, strips = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        make_thumbnail(source, work / "thumb.jpg", size=320)
        thumbs.append(time.perf_counter() - started)
        started = time.perf_counter()
        inspect_image(source, max_pixels=50_000_000, strip_to=work / "clean.jpg")
        strips.append(time.perf_counter() - started)
    return {
        "thumbnail_ms": statistics.median(thumbs) * 1000,
        "decode_and_strip_ms": statistics.median(strips) * 1000,
        "jpeg_bytes": source.stat().st_size,
    }


def print_table(results: list[dict], thumbs: dict) -> None:
    print()
    print(
        "| source | size | upload MB/s | raw MB/s | ratio | curl to a bare socket MB/s | server CPU ms/MB (upload) "
        "| download MB/s | raw MB/s | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        raw = "cp" if r["source"] == "local" else "aioboto3"
        for size, f in r["sizes"].items():
            sink = f"{f['curl_to_socket_mb_s']:.0f}" if "curl_to_socket_mb_s" in f else "-"
            print(
                f"| {r['source']} | {size} MB | {f['upload_mb_s']:.0f} | {f['raw_up_mb_s']:.0f} ({raw}) | "
                f"{f['upload_mb_s'] / f['raw_up_mb_s']:.0%} | {sink} | {f['upload_cpu_ms_per_mb']:.2f} | "
                f"{f['download_mb_s']:.0f} | {f['raw_down_mb_s']:.0f} | "
                f"{f['download_mb_s'] / f['raw_down_mb_s']:.0%} |"
            )
    print()
    for r in results:
        if "rss" in r:
            rss = r["rss"]
            print(
                f"{r['source']}: server RSS idle {rss['idle_mib']:.0f} MiB; growth during 10 concurrent 100 MB "
                f"uploads {rss['upload_growth_mib']:.1f} MiB, downloads {rss['download_growth_mib']:.1f} MiB (target < 64)"
            )
    print(
        f"12-megapixel JPEG ({thumbs['jpeg_bytes'] / MB:.1f} MB): thumbnail + blurhash {thumbs['thumbnail_ms']:.0f} ms, "
        f"full decode + EXIF strip {thumbs['decode_and_strip_ms']:.0f} ms (median)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backend_argument(parser)
    parser.set_defaults(backend="sqlite")
    parser.add_argument("--sizes", default="1,10,100", help="file sizes in MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent 100 MB transfers for RSS (0: skip)")
    parser.add_argument("--no-s3", action="store_true", help="local source only")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the server during the per-size transfers: <dir>/local.txt, <dir>/s3.txt"
    )
    parser.add_argument("--profile-format", choices=["flamegraph", "raw"], default="raw")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="privchat-bench-files-"))
    results = [await measure_source("local", args, {}, None, work)]
    if not args.no_s3:
        os.environ.update(CREDENTIALS)
        moto = MotoServer(work).start()
        try:
            bucket = "bench-" + uuid.uuid4().hex[:8]
            moto.create_bucket(bucket)
            source = {"id": 1, "kind": "s3", "bucket": bucket, "endpoint_url": moto.endpoint, "region": "us-east-1"}
            env = {
                **CREDENTIALS,
                "PRIVCHAT_FILE__STORAGE_SOURCES": json.dumps([{"id": 0, "kind": "local"}, source]),
                "PRIVCHAT_FILE__DEFAULT_SOURCE": "1",
            }
            results.append(await measure_source("s3 (moto)", args, env, (moto.endpoint, bucket), work))
        finally:
            moto.stop()
    thumbs = thumbnail_figures(work, 5)
    print_table(results, thumbs)
    if args.json:
        print(json.dumps({"results": results, "thumbnail": thumbs}, indent=2, default=str))


if __name__ == "__main__":
    asyncio.run(main())
