"""The S3 storage source against a real S3-compatible server (moto's server mode on
127.0.0.1): uploads small and multipart, downloads with Range, deduplication, deletion,
presigned redirects, and an endpoint that is down."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app import runtime
from app.asgi import service_app
from app.config import Settings, StorageSourceSettings
from app.errors import AppError
from app.files import storage
from app.runtime import Services
from tests.support import factories
from tests.support import files as media
from tests.support.s3 import CREDENTIALS, MotoServer
from tests.support.server import free_port

MiB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def s3_source(source_id: int, endpoint: str, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": source_id,
        "kind": "s3",
        "bucket": bucket,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "path": "privchat",
        "multipart_threshold_bytes": 5 * MiB,
        "multipart_part_bytes": 5 * MiB,
        **extra,
    }


@pytest.fixture
def bucket(moto: MotoServer) -> str:
    name = "files-" + uuid.uuid4().hex[:12]
    moto.create_bucket(name)
    return name


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], moto: MotoServer, bucket: str) -> Settings:
    return settings_factory(
        file={
            "default_source": 1,
            "storage_sources": [
                {"id": 0, "kind": "local"},
                s3_source(1, moto.endpoint, bucket),
                s3_source(2, moto.endpoint, bucket, presigned_redirect=True, path="redirected"),
            ],
        }
    )


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://files.test") as client:
        yield client


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def bearer(who: factories.Account) -> dict[str, str]:
    return {"authorization": f"Bearer {who.access_token}"}


async def test_small_and_multipart_uploads_land_in_the_bucket_once_and_read_back_with_ranges(
    services: Services, http: httpx.AsyncClient, moto: MotoServer, bucket: str
) -> None:
    ann = await factories.account(services, "ann")
    small = media.pdf() + b"small"
    large = media.pdf() + bytes(range(256)) * (12 * MiB // 256)  # over the multipart threshold
    infos = []
    for data in (small, large, large):
        t = await services.files.request_upload(
            ann.principal, name="d.pdf", size=len(data), mime="application/pdf", purpose="message"
        )
        if len(data) > MiB:  # the large ones through tus, in 3 MiB chunks
            created = await http.post(path(t.upload_url), headers={**TUS, "Upload-Length": str(len(data))})
            key = path(created.headers["location"])
            for start in range(0, len(data), 3 * MiB):
                headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(start)}
                answer = await http.patch(key, content=data[start : start + 3 * MiB], headers=headers)
                assert answer.status_code == 204, answer.text
            record = await services.files.upload_callback(ann.principal, t.file.id)
            infos.append({"id": record.id, "size": record.size})
        else:
            answer = await http.put(path(t.upload_url), content=data)
            assert answer.status_code == 200, answer.text
            infos.append(answer.json()["file"])
    keys = moto.keys(bucket)
    assert len(keys) == 2 and all(k.startswith("privchat/") for k in keys)  # the large one stored once
    assert any(hashlib.sha256(large).hexdigest() in k for k in keys)
    url = f"/api/app/files/{infos[1]['id']}"
    part = await http.get(url, headers={**bearer(ann), "range": f"bytes={6 * MiB}-{6 * MiB + 99}"})
    assert part.status_code == 206 and part.content == large[6 * MiB : 6 * MiB + 100]
    whole = await http.get(url, headers=bearer(ann))
    assert whole.status_code == 200 and hashlib.sha256(whole.content).digest() == hashlib.sha256(large).digest()
    # unattached: swept after the grace period, and the objects with them
    await services.file_lifecycle.sweep(now=10**15)
    assert moto.keys(bucket) == []


async def test_parts_are_streamed_from_the_staged_file_never_held_in_memory_whole(
    moto: MotoServer, bucket: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What bounds the memory of concurrent S3 uploads: a request body is a window on the
    # staged file, read by botocore (hashes) and aiohttp (sends) in their own small reads,
    # never a 5 MiB part (nor a whole small file) as one bytes object.
    reads: list[int] = []
    read = storage.FileRange.read

    def counted(self: storage.FileRange, size: int | None = -1) -> bytes:
        data = read(self, size)
        reads.append(len(data))
        return data

    monkeypatch.setattr(storage.FileRange, "read", counted)
    source = storage.S3Source(StorageSourceSettings(**s3_source(1, moto.endpoint, bucket)))
    await source.start()
    try:
        for size in (3 * MiB + 7, 11 * MiB + 123):  # put_object; 3 parts of at most 5 MiB
            data = os.urandom(size)
            staged = tmp_path / f"{size}.part"
            staged.write_bytes(data)
            reads.clear()
            await source.put_file(f"privchat/{size}", staged, size)
            assert 0 < max(reads) <= MiB, max(reads)
            assert sum(reads) >= size  # every byte came from the file
            stored = b"".join([chunk async for chunk in source.read(f"privchat/{size}", 0, size - 1)])
            assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
    finally:
        await source.close()


async def test_presigned_redirects_after_the_access_check(
    services: Services, http: httpx.AsyncClient, moto: MotoServer, bucket: str
) -> None:
    services.files.config.default_source = 2
    ann = await factories.account(services, "ann")
    eve = await factories.account(services, "eve")
    data = media.png(30, 30)
    record = await media.upload(services, ann, data, mime="image/png", name="p.png")
    assert record.source_id == 2
    assert (await http.get(f"/api/app/files/{record.id}", headers=bearer(eve))).status_code == 404
    answer = await http.get(f"/api/app/files/{record.id}", headers=bearer(ann))
    assert answer.status_code == 302 and answer.headers["location"].startswith(moto.endpoint)
    async with httpx.AsyncClient() as outside:
        fetched = await outside.get(answer.headers["location"])
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["content-type"] == "image/png"


async def test_the_web_client_may_show_and_play_what_downloads_redirect_to(
    services: Services, http: httpx.AsyncClient, api: Any
) -> None:
    from app.asgi import client_app
    from schema.transport import GraphQLApp

    services.files.config.default_source = 2
    ann = await factories.account(services, "ann")
    record = await media.upload(services, ann, media.png(30, 30), mime="image/png", name="p.png")
    answer = await http.get(f"/api/app/files/{record.id}", headers=bearer(ann))
    target = urlsplit(answer.headers["location"])
    pages = client_app(services, graphql=GraphQLApp(api, services), schema_sdl="", files_enabled=True)
    transport = httpx.ASGITransport(app=pages, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat.test:9080") as page_client:
        page = await page_client.get("/app/")
    directives = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    # The browser checks a redirect's target against the directive of the element that asked.
    for directive in ("img-src", "media-src"):
        assert f"{target.scheme}://{target.netloc}" in directives[directive].split(), directives[directive]
    assert target.netloc not in directives["connect-src"] and target.netloc not in directives["script-src"]


async def test_an_endpoint_that_is_down_fails_clearly_keeps_the_upload_and_publishes_on_retry(
    settings_factory: Callable[..., Settings], tmp_path: Any
) -> None:
    port = free_port()
    bucket = "late-" + uuid.uuid4().hex[:8]
    settings = settings_factory(
        file={
            "default_source": 1,
            "storage_sources": [{"id": 0, "kind": "local"}, s3_source(1, f"http://127.0.0.1:{port}", bucket)],
        }
    )
    services = runtime.build_services(settings)
    await runtime.start(services)
    later: MotoServer | None = None
    try:
        transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://files.test") as http:
            ann = await factories.account(services, "ann")
            data = media.pdf() + b"while down"
            t = await services.files.request_upload(
                ann.principal, name="d.pdf", size=len(data), mime="application/pdf", purpose="message"
            )
            answer = await http.put(path(t.upload_url), content=data)
            assert answer.status_code == 503 and answer.json()["error"]["code"] == "UNAVAILABLE"
            assert answer.headers["retry-after"]
            # nothing half-published: not readable, not sendable, still pending with its bytes kept
            with pytest.raises(AppError) as info:
                await services.files.open_download(file_id=t.file.id, user_id=ann.user_id)
            assert info.value.code.value == "NOT_FOUND"
            assert services.files.staging.offset(t.file.id) == len(data)
            with pytest.raises(AppError) as info:
                await services.files.upload_callback(ann.principal, t.file.id)
            assert info.value.code.value == "UNAVAILABLE"
            # the storage comes back: the callback (or the sweeper) publishes it
            later = MotoServer(tmp_path, port=port).start()
            later.create_bucket(bucket)
            record = await services.files.upload_callback(ann.principal, t.file.id)
            assert record.status == "ready" and len(later.keys(bucket)) == 1
            fetched = await http.get(f"/api/app/files/{record.id}", headers=bearer(ann))
            assert fetched.content == data
            # and a download while it is down again is a clear 503, not a hang or a 500
            later.stop()
            gone = await http.get(f"/api/app/files/{record.id}", headers=bearer(ann))
            assert gone.status_code == 503 and gone.json()["error"]["code"] == "UNAVAILABLE"
    finally:
        if later is not None:
            later.stop()
        await runtime.stop(services)
