"""Files on the local source: upload flows (PUT, multipart POST, tus), validation, downloads
with Range/ETag, access control for attachments, send-time checks, lifecycle, quotas."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from app.accounts.service import ProfileChanges
from app.asgi import service_app
from app.errors import AppError, ErrorCode
from app.files import store
from app.files.service import UploadTicket
from app.groups.service import SettingsChanges
from app.messaging.content import MessageType
from app.messaging.service import SendRequest
from app.runtime import Services
from app.stickers.service import StickerSpec
from tests.support import factories
from tests.support import files as media
from tests.support.factories import Account

pytestmark = pytest.mark.timeout(120)

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://files.test") as client:
        yield client


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def ticket(
    services: Services,
    who: Account,
    data: bytes,
    *,
    mime: str,
    name: str = "f.bin",
    purpose: str = "message",
    **kw: Any,
) -> UploadTicket:
    return await services.files.request_upload(
        who.principal, name=name, size=len(data), mime=mime, purpose=purpose, **kw
    )


async def put(http: httpx.AsyncClient, t: UploadTicket, data: bytes) -> httpx.Response:
    return await http.put(path(t.upload_url), content=data)


async def uploaded(services: Services, http: httpx.AsyncClient, who: Account, data: bytes, **kw: Any) -> dict[str, Any]:
    t = await ticket(services, who, data, **kw)
    response = await put(http, t, data)
    assert response.status_code == 200, response.text
    return response.json()["file"]


def bearer(who: Account) -> dict[str, str]:
    return {"authorization": f"Bearer {who.access_token}"}


async def send_file(
    services: Services, who: Account, channel: int, kind: str, content: dict[str, Any], cid: str
) -> Any:
    return await services.messaging.send(
        who.principal, SendRequest(channel_id=channel, client_msg_id=cid, type=MessageType(kind), content=content)
    )


# -- uploads ------------------------------------------------------------------------------------


async def test_put_publishes_a_file_with_the_facts_found_in_its_bytes(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    data = media.jpeg(640, 480)
    t = await ticket(services, ann, data, mime="image/jpg", name="../../etc/Holiday\x00 pic.jpg")
    assert t.upload_url.startswith("http://") and "/api/app/files/uploads/" in t.upload_url
    checked = await services.files.validate_token(t.token)
    assert (checked.file.id, checked.offset) == (t.file.id, 0)
    response = await put(http, t, data)
    assert response.status_code == 200, response.text
    info = response.json()["file"]
    assert info["id"] == t.file.id
    assert (info["status"], info["mimeType"], info["width"], info["height"]) == ("READY", "image/jpeg", 640, 480)
    assert info["name"] == "Holiday pic.jpg"  # no directories, no control characters
    assert info["blurhash"] and info["thumbnailFileId"] and info["sha256"] == hashlib.sha256(data).hexdigest()
    # the token is spent: a second upload with it is a conflict, nothing changes
    again = await put(http, t, data)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "CONFLICT")
    thumb = await http.get(f"/api/app/files/{info['thumbnailFileId']}", headers=bearer(ann))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == services.settings.file.thumbnail_size


async def test_multipart_post_uploads_and_downloads_honour_range_etag_and_safety_headers(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    data = bytes(range(256)) * 40 + b"<html><script>alert(1)</script></html>"
    t = await ticket(services, ann, data, mime="text/html", name="page.html")
    response = await http.post(path(t.upload_url), files={"file": ("page.html", data, "text/html")})
    assert response.status_code == 200, response.text
    file_id = response.json()["file"]["id"]
    url = f"/api/app/files/{file_id}"
    full = await http.get(url, headers=bearer(ann))
    assert full.status_code == 200 and full.content == data
    # never rendered as a page by a browser
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["x-content-type-options"] == "nosniff"
    assert full.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in full.headers["content-security-policy"]
    etag = full.headers["etag"]
    assert etag == f'"{hashlib.sha256(data).hexdigest()}"' and "private" in full.headers["cache-control"]
    assert (await http.get(url, headers={**bearer(ann), "if-none-match": etag})).status_code == 304
    part = await http.get(url, headers={**bearer(ann), "range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = await http.get(url, headers={**bearer(ann), "range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    beyond = await http.get(url, headers={**bearer(ann), "range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    stale = await http.get(url, headers={**bearer(ann), "range": "bytes=0-9", "if-range": '"other"'})
    assert stale.status_code == 200 and stale.content == data
    head = await http.head(url, headers=bearer(ann))
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data)) and head.content == b""
    assert (await http.get(url)).status_code == 401


async def test_tus_upload_in_chunks_with_head_offsets_conflicts_and_termination(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    data = media.pdf() + b"%" * 300_000
    t = await ticket(services, ann, data, mime="application/pdf", name="doc.pdf")
    options = await http.options(path(t.upload_url))
    assert options.headers["tus-version"] == "1.0.0" and "creation" in options.headers["tus-extension"]
    assert (await http.post(path(t.upload_url), headers={**TUS, "Upload-Length": "5"})).status_code == 400
    created = await http.post(
        path(t.upload_url), headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": "filename ZG9jLnBkZg=="}
    )
    assert created.status_code == 201, created.text
    location = path(created.headers["location"])
    assert created.headers["upload-expires"]
    assert (await http.head(location, headers=TUS)).headers["upload-offset"] == "0"
    patch = {**TUS, "Content-Type": "application/offset+octet-stream"}
    first = await http.patch(location, content=data[:100_000], headers={**patch, "Upload-Offset": "0"})
    assert first.status_code == 204 and first.headers["upload-offset"] == "100000"
    # a PATCH at the wrong offset is refused and changes nothing
    wrong = await http.patch(location, content=data[:10], headers={**patch, "Upload-Offset": "5"})
    assert wrong.status_code == 409
    assert (await http.head(location, headers=TUS)).headers["upload-offset"] == "100000"
    # wrong content type, missing version
    assert (await http.patch(location, content=b"x", headers={**TUS, "Upload-Offset": "100000"})).status_code == 415
    assert (await http.head(location)).status_code == 412
    # more than declared: refused, the offset stays
    too_much = await http.patch(
        location, content=data[100_000:] + b"extra", headers={**patch, "Upload-Offset": "100000"}
    )
    assert too_much.status_code == 413
    assert (await http.head(location, headers=TUS)).headers["upload-offset"] == "100000"
    done = await http.patch(location, content=data[100_000:], headers={**patch, "Upload-Offset": "100000"})
    assert done.status_code == 204 and done.headers["upload-offset"] == str(len(data))
    record = await services.files.upload_callback(ann.principal, t.file.id)
    assert (record.status, record.mime, record.size) == ("ready", "application/pdf", len(data))
    assert (await http.head(location, headers=TUS)).headers["upload-offset"] == str(len(data))
    # termination of another upload
    other = await ticket(services, ann, data, mime="application/pdf")
    made = await http.post(path(other.upload_url), headers={**TUS, "Upload-Length": str(len(data))})
    key = path(made.headers["location"])
    assert (await http.delete(key, headers=TUS)).status_code == 204
    assert (await http.head(key, headers=TUS)).status_code == 404
    assert services.files.staging.offset(other.file.id) is None


async def test_concurrent_patches_to_one_upload_are_refused_not_interleaved(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    data = media.pdf() + b"x" * 2_000_000
    t = await ticket(services, ann, data, mime="application/pdf")
    key = path(
        (await http.post(path(t.upload_url), headers={**TUS, "Upload-Length": str(len(data))})).headers["location"]
    )
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield data[:1000]
        await gate.wait()
        yield data[1000:500_000]

    patch = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    first = asyncio.create_task(http.patch(key, content=slow(), headers=patch))
    await asyncio.sleep(0.2)
    second = await http.patch(key, content=data[:1000], headers=patch)
    assert second.status_code == 423
    gate.set()
    assert (await first).status_code == 204
    assert (await http.head(key, headers=TUS)).headers["upload-offset"] == "500000"


async def test_creation_with_upload_and_creating_twice_answers_the_same_upload(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    data = media.png(20, 20)
    t = await ticket(services, ann, data, mime="image/png")
    headers = {**TUS, "Upload-Length": str(len(data)), "Content-Type": "application/offset+octet-stream"}
    created = await http.post(path(t.upload_url), content=data, headers=headers)
    assert created.status_code == 201 and created.headers["upload-offset"] == str(len(data))
    record = await services.files.upload_callback(ann.principal, t.file.id)
    assert (record.status, record.width) == ("ready", 20)


async def test_bad_uploads_are_refused_with_typed_errors_and_nothing_is_published(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    files = services.files
    # bytes that are not the declared type
    t = await ticket(services, ann, media.pdf(), mime="image/png")
    refused = await put(http, t, media.pdf())
    assert refused.status_code == 400 and "not image/png" in refused.json()["error"]["message"]
    with pytest.raises(AppError) as info:
        await files.upload_callback(ann.principal, t.file.id)
    assert info.value.code.value == "BAD_USER_INPUT"
    # a PNG declared as a PDF hides an image
    t = await ticket(services, ann, media.png(), mime="application/pdf")
    assert (await put(http, t, media.png())).status_code == 400
    # a truncated image
    whole = media.jpeg(300, 200)
    t = await ticket(services, ann, whole[: len(whole) // 2], mime="image/jpeg")
    cut = await put(http, t, whole[: len(whole) // 2])
    assert cut.status_code == 400 and "truncated" in cut.json()["error"]["message"]
    # a decompression bomb: a tiny file of very many pixels
    bomb = io.BytesIO()
    Image.new("L", (9000, 9000)).save(bomb, "PNG", optimize=True)
    t = await ticket(services, ann, bomb.getvalue(), mime="image/png")
    exploded = await put(http, t, bomb.getvalue())
    assert exploded.status_code == 400 and "pixels" in exploded.json()["error"]["message"]
    # size other than declared
    t = await ticket(services, ann, media.pdf(), mime="application/pdf")
    assert (await http.put(path(t.upload_url), content=media.pdf() + b"more")).status_code == 400
    # declared sha256 that the bytes do not have
    t = await ticket(services, ann, media.pdf(), mime="application/pdf", sha256="0" * 64)
    assert "sha256" in (await put(http, t, media.pdf())).json()["error"]["message"]
    # forged, foreign-kind and expired tokens
    assert (await http.put("/api/app/files/uploads/not-a-token", content=b"x")).status_code == 401
    t = await ticket(services, bob, media.pdf(), mime="application/pdf")
    key = path(
        (await http.post(path(t.upload_url), headers={**TUS, "Upload-Length": str(len(media.pdf()))})).headers[
            "location"
        ]
    )
    assert (
        await http.put(key.replace("/tus/", "/uploads/"), content=media.pdf())
    ).status_code == 401  # a key is no token
    expired = files.tokens.issue(
        "upload", files.tokens.check("upload", t.token).__class__(t.file.id, bob.user_id, 1, "message", 1)
    )
    gone = await http.put(f"/api/app/files/uploads/{expired}", content=media.pdf())
    assert (gone.status_code, gone.json()["error"]["code"]) == (401, "TOKEN_EXPIRED")
    # limits and names at request time
    with pytest.raises(AppError) as info:
        await files.request_upload(ann.principal, name="a.png", size=10**12, mime="image/png", purpose="message")
    assert info.value.code.value == "PAYLOAD_TOO_LARGE"
    for bad in (
        {"name": "", "size": 5, "mime": "text/plain", "purpose": "message"},
        {"name": "a", "size": 0, "mime": "text/plain", "purpose": "message"},
        {"name": "a", "size": 5, "mime": "not a type", "purpose": "message"},
        {"name": "a", "size": 5, "mime": "text/plain", "purpose": "everything"},
        {"name": "a", "size": 5, "mime": "application/pdf", "purpose": "user_avatar"},
        {"name": "a", "size": 5, "mime": "text/plain", "purpose": "message", "sha256": "xyz"},
    ):
        with pytest.raises(AppError) as info:
            await files.request_upload(ann.principal, **bad)
        assert info.value.code.value == "BAD_USER_INPUT", bad
    # none of the refused uploads became readable
    for record_id in [t.file.id]:
        with pytest.raises(AppError):
            await files.open_download(file_id=record_id, user_id=bob.user_id)


async def test_exif_and_gps_are_stripped_and_orientation_applied(services: Services, http: httpx.AsyncClient) -> None:
    ann = await factories.account(services, "ann")
    data = media.jpeg(64, 32, gps=True, orientation=6)  # rotated 90 degrees by EXIF
    assert Image.open(io.BytesIO(data)).getexif()
    info = await uploaded(services, http, ann, data, mime="image/jpeg")
    stored = (await http.get(f"/api/app/files/{info['id']}", headers=bearer(ann))).content
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif() and "exif" not in image.info
    assert b"PrivChat Camera" not in stored and b"GPS" not in stored
    assert image.size == (32, 64) == (info["width"], info["height"])


async def test_the_same_bytes_are_stored_once_and_survive_until_the_last_file_goes(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    data = media.pdf() + b"shared"
    one = await uploaded(services, http, ann, data, mime="application/pdf")
    two = await uploaded(services, http, bob, data, mime="application/pdf")
    report = await services.file_lifecycle.report()
    assert [(s.blobs, s.bytes) for s in report.sources] == [(1, len(data))]
    root = services.files.sources[0].root  # type: ignore[attr-defined]
    assert len([p for p in root.rglob("*") if p.is_file()]) == 1
    # (the second one was hard-linked in first, with no look-up: the publishing transaction
    # found the blob and dropped the link)
    assert services.files.sources[0].lookup_before_put is False
    # neither is attached: after the grace period both go, and the bytes with them
    await services.file_lifecycle.sweep(now=10**15)
    assert [p for p in root.rglob("*") if p.is_file()] == []
    for f in (one, two):
        assert (await http.get(f"/api/app/files/{f['id']}", headers=bearer(ann))).status_code == 404


async def test_an_upload_settled_meanwhile_is_not_published_twice(services: Services, http: httpx.AsyncClient) -> None:
    """The request that writes an upload's last byte publishes it with the record it read
    at its start (no second read under the lock). Had another request published the upload
    meanwhile and died before dropping the staged bytes, the publishing transaction finds
    the record no longer pending: the file is answered as published, once, and the stale
    bytes go."""
    ann = await factories.account(services, "ann")
    data = media.pdf() + b"once"
    t = await ticket(services, ann, data, mime="application/pdf")
    async with services.db.read() as session:
        stale = await store.get_file(session, t.file.id)
    assert stale is not None and stale.status == "pending"
    published = (await put(http, t, data)).json()["file"]
    staged = services.files.staging.path(t.file.id)
    staged.write_bytes(data)  # what a request that died after its commit leaves behind
    again = await services.files._finalize(t.file.id, pending=stale)
    assert (again.status, again.sha256) == ("ready", published["sha256"])
    async with services.db.read() as session:
        record = await store.get_file(session, t.file.id)
        assert record is not None and record.blob_id is not None
        blob = await store.get_blob(session, record.blob_id)
    assert blob is not None and blob.ref_count == 1  # not claimed a second time
    root = services.files.sources[0].root  # type: ignore[attr-defined]
    assert len([p for p in root.rglob("*") if p.is_file()]) == 1  # nor stored twice
    assert not staged.exists()
    # swept away meanwhile: nothing is published, and the upload is not found
    gone = await ticket(services, ann, data, mime="application/pdf")
    async with services.db.read() as session:
        stale = await store.get_file(session, gone.file.id)
    async with services.db.transaction() as tx:
        await store.delete_files(tx.session, [gone.file.id])
    await services.files.staging.create(gone.file.id)
    services.files.staging.path(gone.file.id).write_bytes(data)
    with pytest.raises(AppError) as refused:
        await services.files._finalize(gone.file.id, pending=stale)
    assert refused.value.code is ErrorCode.NOT_FOUND
    assert len([p for p in root.rglob("*") if p.is_file()]) == 1


async def test_quota_counts_stored_and_pending_bytes(services: Services, settings_factory: Any) -> None:
    ann = await factories.account(services, "ann")
    services.files.config.user_quota_bytes = 1000
    await services.files.request_upload(ann.principal, name="a", size=600, mime="text/plain", purpose="message")
    with pytest.raises(AppError) as info:
        await services.files.request_upload(ann.principal, name="b", size=500, mime="text/plain", purpose="message")
    assert info.value.code.value == "FORBIDDEN" and "quota" in info.value.message


# -- downloads and access -----------------------------------------------------------------------


async def test_attachments_are_readable_by_who_sees_the_message_and_nobody_else(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann, bob, carol, dan, eve = [await factories.account(services, n) for n in ("ann", "bob", "carol", "dan", "eve")]
    group = await services.groups.create(ann.principal, name="Trip", member_ids=[bob.user_id, carol.user_id])
    gid = group.group.channel.id
    assert gid is not None
    photo = await uploaded(services, http, ann, media.jpeg(200, 100), mime="image/jpeg")
    url = f"/api/app/files/{photo['id']}"
    # before it is sent, only the uploader may read it
    assert (await http.get(url, headers=bearer(bob))).status_code == 404
    message = await send_file(services, ann, gid, "image", {"fileId": photo["id"], "width": 1, "height": 1}, "p1")
    assert (message.content["width"], message.content["height"]) == (200, 100)  # the server's facts
    assert message.content["thumbnailFileId"] == photo["thumbnailFileId"] and message.content["blurhash"]
    for member in (ann, bob, carol):
        assert (await http.get(url, headers=bearer(member))).status_code == 200
        assert (await http.get(f"/api/app/files/{photo['thumbnailFileId']}", headers=bearer(member))).status_code == 200
    # outsiders get exactly what a missing file gets
    missing = await http.get("/api/app/files/" + "0" * 32, headers=bearer(eve))
    foreign = await http.get(url, headers=bearer(eve))
    assert foreign.status_code == missing.status_code == 404 and foreign.json() == missing.json()
    # a newcomer who does not see earlier messages does not see their files
    await services.groups.update_settings(ann.principal, gid, SettingsChanges(history_visible=False))
    await services.groups.members.add(ann.principal, gid, [dan.user_id])
    assert (await http.get(url, headers=bearer(dan))).status_code == 404
    # a removed member loses access at once, signed links included
    link = await services.files.signed_url(carol.principal, photo["id"], None)
    assert (await http.get(path(link.url))).status_code == 200
    await services.groups.members.remove(ann.principal, gid, carol.user_id)
    assert (await http.get(url, headers=bearer(carol))).status_code == 404
    assert (await http.get(path(link.url))).status_code == 404
    # a revoked message's file is gone for everyone but... everyone: then deleted
    await services.messaging.revoke(ann.principal, message.id)
    assert (await http.get(url, headers=bearer(bob))).status_code == 404
    await services.file_lifecycle.sweep()
    assert (await http.get(url, headers=bearer(ann))).status_code == 404
    assert [p for p in services.files.sources[0].root.rglob("*") if p.is_file()] == []  # type: ignore[attr-defined]


async def test_signed_links_work_without_headers_until_they_expire_or_are_forged(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    info = await uploaded(services, http, ann, media.png(), mime="image/png")
    link = await services.files.signed_url(ann.principal, info["id"], "chat.example.org")
    assert link.url.startswith("http://chat.example.org:")
    ok = await http.get(path(link.url))
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
    forged = path(link.url).replace("s=", "s=x")
    assert (await http.get(forged)).status_code == 401
    other_user = path(link.url).replace(f"u={ann.user_id}", f"u={ann.user_id + 1}")
    assert (await http.get(other_user)).status_code == 401
    tokens = services.files.tokens
    expired = (
        f"/api/app/files/{info['id']}?u={ann.user_id}&e=1000&s={tokens.sign_download(info['id'], ann.user_id, 1000)}"
    )
    assert (await http.get(expired)).json()["error"]["code"] == "TOKEN_EXPIRED"


async def test_sending_checks_the_file_and_forwarding_shares_it(services: Services, http: httpx.AsyncClient) -> None:
    ann, bob, carol = [await factories.account(services, n) for n in ("ann", "bob", "carol")]
    ab = await factories.direct_channel(services, ann, bob)
    bc = await factories.direct_channel(services, bob, carol)
    doc = await uploaded(services, http, ann, media.pdf(), mime="application/pdf", name="a.pdf")
    song = await uploaded(services, http, ann, media.wav(), mime="audio/wav")

    async def refused(who: Account, channel: int, kind: str, content: dict[str, Any]) -> str:
        with pytest.raises(AppError) as info:
            await send_file(services, who, channel, kind, content, f"x{id(content)}")
        return info.value.code.value

    # bob may not send ann's upload: it is not his and no message shows it to him
    assert await refused(bob, ab, "file", {"fileId": doc["id"], "name": "a.pdf", "size": 1}) == "NOT_FOUND"
    assert await refused(ann, ab, "file", {"fileId": "f" * 32, "name": "a.pdf", "size": 1}) == "NOT_FOUND"
    # type must match the message type
    assert await refused(ann, ab, "image", {"fileId": doc["id"]}) == "BAD_USER_INPUT"
    assert await refused(ann, ab, "video", {"fileId": song["id"], "durationMs": 5}) == "BAD_USER_INPUT"
    # an upload that is not complete
    pending = await ticket(services, ann, media.pdf(), mime="application/pdf")
    assert await refused(ann, ab, "file", {"fileId": pending.file.id, "name": "a", "size": 1}) == "BAD_USER_INPUT"
    # an avatar is not an attachment
    avatar = await uploaded(services, http, ann, media.png(), mime="image/png", purpose="user_avatar")
    assert await refused(ann, ab, "image", {"fileId": avatar["id"]}) == "BAD_USER_INPUT"
    sent = await send_file(services, ann, ab, "file", {"fileId": doc["id"], "name": "a.pdf", "size": 1}, "d1")
    assert (sent.content["size"], sent.content["mimeType"]) == (len(media.pdf()), "application/pdf")
    # now bob sees it, so he may send it on, and forward it; carol reads it through either
    again = await send_file(services, bob, bc, "file", {"fileId": doc["id"], "name": "a.pdf", "size": 1}, "d2")
    assert again.content["fileId"] == doc["id"]
    await services.messaging.revoke(bob.principal, again.id)
    url = f"/api/app/files/{doc['id']}"
    assert (await http.get(url, headers=bearer(carol))).status_code == 404
    results = await services.forwarding.forward(
        bob.principal, request_id="fw1", message_ids=[sent.id], channel_ids=[bc]
    )
    assert results[0].error is None
    assert (await http.get(url, headers=bearer(carol))).status_code == 200
    # the container's play time wins over the client's
    voice = await send_file(services, ann, ab, "audio", {"fileId": song["id"], "durationMs": 5}, "v1")
    assert (voice.content["durationMs"], voice.content["mimeType"]) == (200, "audio/wav")
    # text pays nothing: it never reaches the attachment rules
    assert MessageType.TEXT.value not in services.messaging.attachments.kinds  # type: ignore[union-attr]


# -- lifecycle ------------------------------------------------------------------------------------


async def test_expired_uploads_and_unattached_files_are_swept(services: Services, http: httpx.AsyncClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    half = await ticket(services, ann, media.pdf() + b"1" * 1000, mime="application/pdf")
    created = await http.post(path(half.upload_url), headers={**TUS, "Upload-Length": str(half.file.declared_size)})
    key = path(created.headers["location"])
    await http.patch(
        key, content=b"%PDF", headers={**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    )
    kept = await uploaded(services, http, ann, media.pdf() + b"2", mime="application/pdf")
    loose = await uploaded(services, http, ann, media.pdf() + b"3", mime="application/pdf")
    await send_file(services, ann, channel, "file", {"fileId": kept["id"], "name": "k.pdf", "size": 1}, "k")
    grace = services.settings.file.unattached_grace_seconds * 1000
    # nothing is due yet
    first = await services.file_lifecycle.sweep()
    assert (first.expired_uploads, first.deleted_files) == (0, 0)
    late = half.file.expires_at + grace + 1
    result = await services.file_lifecycle.sweep(now=late)
    assert result.expired_uploads == 1 and result.deleted_files == 1 and result.deleted_blobs == 1
    assert (await http.head(key, headers=TUS)).status_code == 404
    assert services.files.staging.offset(half.file.id) is None
    assert (await http.get(f"/api/app/files/{loose['id']}", headers=bearer(ann))).status_code == 404
    assert (await http.get(f"/api/app/files/{kept['id']}", headers=bearer(bob))).status_code == 200
    report = await services.file_lifecycle.report()
    assert [(u.user_id, u.files) for u in report.users] == [(ann.user_id, 1)]


# -- avatars ------------------------------------------------------------------------------------


async def test_profile_and_group_avatars_by_file_id_release_the_old_one(
    services: Services, http: httpx.AsyncClient
) -> None:
    ann, bob, eve = [await factories.account(services, n) for n in ("ann", "bob", "eve")]
    first = await uploaded(services, http, ann, media.png(), mime="image/png", purpose="user_avatar")
    second = await uploaded(services, http, ann, media.png(48, 48), mime="image/png", purpose="user_avatar")
    attachment = await uploaded(services, http, ann, media.jpeg(), mime="image/jpeg")
    user = await services.accounts.update_profile(ann.principal, ProfileChanges(avatar_file_id=first["id"]))
    assert user.avatar_file_id == first["id"]
    # anyone signed in may see a profile picture
    assert (await http.get(f"/api/app/files/{first['id']}", headers=bearer(eve))).status_code == 200
    for bad, code in ((attachment["id"], "BAD_USER_INPUT"), ("9" * 32, "NOT_FOUND")):
        with pytest.raises(AppError) as info:
            await services.accounts.update_profile(ann.principal, ProfileChanges(avatar_file_id=bad))
        assert info.value.code.value == code
    with pytest.raises(AppError) as info:  # someone else's picture
        await services.accounts.update_profile(bob.principal, ProfileChanges(avatar_file_id=second["id"]))
    assert info.value.code.value == "NOT_FOUND"
    await services.accounts.update_profile(ann.principal, ProfileChanges(avatar_file_id=second["id"]))
    await services.file_lifecycle.sweep()
    assert (await http.get(f"/api/app/files/{first['id']}", headers=bearer(ann))).status_code == 404
    assert (await http.get(f"/api/app/files/{second['id']}", headers=bearer(eve))).status_code == 200
    cleared = await services.accounts.update_profile(ann.principal, ProfileChanges(avatar_file_id=""))
    assert cleared.avatar_file_id is None
    # groups: members see the photo, others do not
    photo = await uploaded(services, http, ann, media.png(), mime="image/png", purpose="group_avatar")
    created = await services.groups.create(
        ann.principal, name="G", member_ids=[bob.user_id], avatar_file_id=photo["id"]
    )
    gid = created.group.channel.id
    assert created.group.channel.avatar_file_id == photo["id"]
    assert (await http.get(f"/api/app/files/{photo['id']}", headers=bearer(bob))).status_code == 200
    assert (await http.get(f"/api/app/files/{photo['id']}", headers=bearer(eve))).status_code == 404
    newer = await uploaded(services, http, ann, media.png(16, 16), mime="image/png", purpose="group_avatar")
    view = await services.groups.update_settings(ann.principal, gid, SettingsChanges(avatar_file_id=newer["id"]))
    assert view.channel.avatar_file_id == newer["id"]
    await services.file_lifecycle.sweep()
    assert (await http.get(f"/api/app/files/{photo['id']}", headers=bearer(ann))).status_code == 404


# -- stickers -------------------------------------------------------------------------------------


async def test_sticker_packs_are_published_collected_and_sent(services: Services, http: httpx.AsyncClient) -> None:
    admin, ann, bob = [await factories.account(services, n) for n in ("boss", "ann", "bob")]
    channel = await factories.direct_channel(services, ann, bob)
    draft = await media.sticker_pack(services, admin, count=3, publish=False)
    pack_id = draft.pack.id
    sticker = draft.stickers[1]
    content = {"packageId": str(pack_id), "stickerId": str(sticker.id)}
    # unpublished: invisible to users, not sendable, images not readable
    assert (await services.stickers.list_published(ann.principal, cursor=None, limit=10)).items == []
    with pytest.raises(AppError) as info:
        await send_file(services, ann, channel, "sticker", content, "s0")
    assert info.value.code.value == "NOT_FOUND"
    assert (await http.get(f"/api/app/files/{sticker.file_id}", headers=bearer(ann))).status_code == 404
    await services.stickers.publish_pack(pack_id, published=True)
    listed = (await services.stickers.list_published(ann.principal, cursor=None, limit=10)).items
    assert [p.pack.id for p in listed] == [pack_id] and [s.position for s in listed[0].stickers] == [0, 1, 2]
    assert (await http.get(f"/api/app/files/{sticker.file_id}", headers=bearer(ann))).status_code == 200
    message = await send_file(services, ann, channel, "sticker", content, "s1")
    assert message.content == {**content, "fileId": sticker.file_id, "emoji": "😺"}
    wrong = {"packageId": str(pack_id), "stickerId": "999999"}
    with pytest.raises(AppError) as info:
        await send_file(services, ann, channel, "sticker", wrong, "s2")
    assert info.value.code.value == "NOT_FOUND"
    # collections are synced to the user's devices as user updates
    head = await services.updates.head(ann.user_id)
    await services.stickers.add_to_collection(ann.principal, pack_id)
    assert [p.pack.id for p in await services.stickers.collection(ann.principal)] == [pack_id]
    await services.stickers.remove_from_collection(ann.principal, pack_id)
    page = await services.updates.get_since(ann.principal, since=head, limit=10)
    assert [(u.kind, u.payload) for u in page.updates] == [
        ("sticker_collection", {"packageId": pack_id, "added": True}),
        ("sticker_collection", {"packageId": pack_id, "added": False}),
    ]
    # replacing the stickers releases the removed images; deleting the pack hides it all
    kept = draft.stickers[0]
    await services.stickers.update_pack(
        pack_id,
        name="Dogs",
        description=None,
        cover_file_id=None,
        stickers=[StickerSpec(kept.file_id, "🐶")],
    )
    await services.file_lifecycle.sweep()
    assert (await http.get(f"/api/app/files/{sticker.file_id}", headers=bearer(admin))).status_code == 404
    await services.stickers.add_to_collection(bob.principal, pack_id)
    await services.stickers.delete_pack(pack_id)
    assert await services.stickers.collection(bob.principal) == []
    assert (await http.get(f"/api/app/files/{kept.file_id}", headers=bearer(ann))).status_code == 404


async def test_an_attachment_costs_the_send_one_query_and_one_insert_and_text_nothing(
    services: Services, http: httpx.AsyncClient
) -> None:
    from sqlalchemy import event

    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    doc = await uploaded(services, http, ann, media.pdf(), mime="application/pdf")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    async def cost(kind: str, content: dict[str, Any], cid: str) -> list[str]:
        statements.clear()
        event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)
        try:
            await send_file(services, ann, channel, kind, content, cid)
        finally:
            event.remove(services.db.engine.sync_engine, "before_cursor_execute", count)
        return list(statements)

    await cost("text", {"text": "warm up"}, "w")
    text = await cost("text", {"text": "hi"}, "t")
    attached = await cost("file", {"fileId": doc["id"], "name": "a.pdf", "size": 1}, "f")

    def touching_files(found: list[str]) -> list[str]:
        return [s.split()[0] for s in found if " files" in s or "file_refs" in s or "file_blobs" in s]

    assert touching_files(text) == []
    # one query checks the files (with the sender's right to them), one insert records their use
    assert touching_files(attached) == ["SELECT", "INSERT"], attached
