"""file/*, sticker/* and admin/file|sticker/* through both doors: GraphQL (JSON and the
multipart request spec) and the native gateway over a real TCP socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app import runtime
from app.asgi import service_app
from app.config import Settings
from app.runtime import Services
from gateway_native.client import Endpoint, NativeConnection, RpcError
from gateway_native.gateway import Gateway
from tests.support import factories
from tests.support import files as media
from tests.support.graphql import GraphQLClient
from tests.support.server import free_port

SERVICE_KEY = "files-service-key-" + "k" * 20
REQUEST = """mutation($i: FileRequestUploadTokenInput!) { fileRequestUploadToken(input: $i) { fileId uploadUrl token expiresAt } }"""
VALIDATE = """query($t: String!) { fileValidateToken(input: {token: $t}) { valid fileId size purpose offset } }"""
CALLBACK = """mutation($f: ID!) { fileUploadCallback(input: {fileId: $f}) {
  file { id status mimeType size width height blurhash thumbnailFileId purpose } } }"""
GET_URL = """query($f: ID!) { fileGetUrl(input: {fileId: $f}) { url expiresAt } }"""
UPLOAD = """mutation($f: Upload!, $p: FilePurpose!) { fileUpload(input: {file: $f, purpose: $p}) {
  file { id name status mimeType width height thumbnailFileId } } }"""
SEND = """mutation($c: ID!, $id: String!, $content: MessageContentInput!) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: $content}) { message { id content {
    __typename ... on ImageContent { fileId width height thumbnailFileId blurhash size mimeType }
    ... on StickerContent { packageId stickerId fileId emoji } } } } }"""
PROFILE = """mutation($a: String) { accountProfileUpdate(input: {avatarFileId: $a}) { profile { avatarFileId } } }"""
REPORT = """query { adminFileStorageReport { users { userId files bytes } sources { sourceId kind blobs bytes } pendingUploads } }"""
CREATE_PACK = """mutation($i: AdminStickerPackageCreateInput!) { adminStickerPackageCreate(input: $i) {
  package { id name published stickers { id fileId emoji } } } }"""
PUBLISH = """mutation($p: ID!) { adminStickerPackagePublish(input: {packageId: $p}) { package { id published } } }"""
PACKS = """query { stickerPackageList { packages { id name inCollection stickers { id } } nextCursor } }"""
COLLECT = """mutation($p: ID!) { stickerCollectionAdd(input: {packageId: $p}) { package { id inCollection } } }"""
UPDATES = """query($s: Int!) { syncGetUpdates(input: {since: $s, limit: 50}) { updates {
  __typename ... on StickerCollectionEvent { seq packageId added } } } }"""


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(security={"service_key": SERVICE_KEY})


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://files.test") as client:
        yield client


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_the_graphql_upload_flow_from_token_to_signed_link(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    ann = await factories.account(services, "ann")
    data = media.jpeg(120, 80, gps=True)
    request = {"name": "cat.jpg", "size": len(data), "mime": "image/jpeg", "purpose": "MESSAGE"}
    granted = (await gql.data(REQUEST, {"i": request}, token=ann.access_token))["fileRequestUploadToken"]
    # the URL points at the service port of the host the client called
    assert granted["uploadUrl"].startswith(f"http://testserver:{services.settings.http.port}/api/app/files/uploads/")
    checked = (await gql.data(VALIDATE, {"t": granted["token"]}, token=ann.access_token))["fileValidateToken"]
    assert checked == {"valid": True, "fileId": granted["fileId"], "size": len(data), "purpose": "MESSAGE", "offset": 0}
    early = await gql.execute(CALLBACK, {"f": granted["fileId"]}, token=ann.access_token)
    assert early.error_code == "CONFLICT"  # nothing received yet
    assert (await http.put(path(granted["uploadUrl"]), content=data)).status_code == 200
    file = (await gql.data(CALLBACK, {"f": granted["fileId"]}, token=ann.access_token))["fileUploadCallback"]["file"]
    assert (file["status"], file["mimeType"], file["width"], file["height"]) == ("READY", "image/jpeg", 120, 80)
    link = (await gql.data(GET_URL, {"f": granted["fileId"]}, token=ann.access_token))["fileGetUrl"]
    fetched = await http.get(path(link["url"]))
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    bob = await factories.account(services, "bob")
    assert (await gql.execute(GET_URL, {"f": granted["fileId"]}, token=bob.access_token)).error_code == "NOT_FOUND"
    # someone else's token is no good to bob
    other = (await gql.data(REQUEST, {"i": request}, token=ann.access_token))["fileRequestUploadToken"]
    assert (await gql.execute(VALIDATE, {"t": other["token"]}, token=bob.access_token)).error_code == "UNAUTHENTICATED"
    bad = await gql.execute(REQUEST, {"i": {**request, "size": 10**12}}, token=ann.access_token)
    assert bad.error_code == "PAYLOAD_TOO_LARGE"
    assert (await gql.execute(VALIDATE, {"t": "nonsense"}, token=ann.access_token)).error_code == "UNAUTHENTICATED"


async def test_graphql_multipart_upload_then_an_image_message_with_the_servers_facts(
    services: Services, gql: GraphQLClient
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    data = media.png(90, 60)
    operations = {"query": UPLOAD, "variables": {"f": None, "p": "MESSAGE"}}
    response = await gql.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("pic.png", data, "image/png")},
        headers={"authorization": f"Bearer {ann.access_token}"},
    )
    assert response.status_code == 200, response.text
    file = response.json()["data"]["fileUpload"]["file"]
    assert (file["name"], file["status"], file["mimeType"], file["width"], file["height"]) == (
        "pic.png",
        "READY",
        "image/png",
        90,
        60,
    )
    content = {"image": {"fileId": file["id"], "width": 1, "height": 1}}
    sent = await gql.data(SEND, {"c": str(channel), "id": "i1", "content": content}, token=ann.access_token)
    image = sent["messageSend"]["message"]["content"]
    assert image["__typename"] == "ImageContent"
    assert (image["width"], image["height"], image["thumbnailFileId"], image["mimeType"]) == (
        90,
        60,
        file["thumbnailFileId"],
        "image/png",
    )
    assert image["blurhash"] and image["size"] == len(data)
    # a malformed multipart request is a protocol error, and anonymous uploads are refused
    broken = await gql.http.post(
        "/graphql", data={"operations": json.dumps(operations)}, files={"0": ("a", b"x", "text/plain")}
    )
    assert broken.status_code == 400
    anonymous = await gql.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("pic.png", data, "image/png")},
    )
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_avatars_stickers_and_the_storage_report_through_graphql(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    root = await services.accounts.create_admin(username="chief", password=factories.PASSWORD)
    admin = await factories.login(services, root.username)
    avatar = await media.upload(services, ann, media.png(), mime="image/png", purpose="user_avatar")
    profile = (await gql.data(PROFILE, {"a": avatar.id}, token=ann.access_token))["accountProfileUpdate"]["profile"]
    assert profile["avatarFileId"] == avatar.id
    assert (await gql.execute(PROFILE, {"a": "nope"}, token=ann.access_token)).error_code == "NOT_FOUND"
    # admin operations: refused to users, open to admins and to the service key
    assert (await gql.execute(REPORT, token=ann.access_token)).error_code == "FORBIDDEN"
    keyed = await gql.http.post(gql.path, json={"query": REPORT}, headers={"x-service-key": SERVICE_KEY})
    report = keyed.json()["data"]["adminFileStorageReport"]
    (source,) = report["sources"]
    assert (source["sourceId"], source["kind"], source["blobs"]) == (0, "local", 2)  # the image and its thumbnail
    assert source["bytes"] > avatar.size and report["users"][0]["userId"] == str(ann.user_id)
    images = [
        await media.upload(services, admin, media.png(40, 40), mime="image/png", purpose="sticker") for _ in range(2)
    ]
    spec = {"name": "Cats", "stickers": [{"fileId": f.id, "emoji": "😺"} for f in images]}
    assert (await gql.execute(CREATE_PACK, {"i": spec}, token=ann.access_token)).error_code == "FORBIDDEN"
    pack = (await gql.data(CREATE_PACK, {"i": spec}, token=admin.access_token))["adminStickerPackageCreate"]["package"]
    assert (pack["published"], [s["fileId"] for s in pack["stickers"]]) == (False, [f.id for f in images])
    assert (await gql.data(PACKS, token=ann.access_token))["stickerPackageList"]["packages"] == []
    await gql.data(PUBLISH, {"p": pack["id"]}, token=admin.access_token)
    listed = (await gql.data(PACKS, token=ann.access_token))["stickerPackageList"]["packages"]
    assert [(p["id"], p["inCollection"]) for p in listed] == [(pack["id"], False)]
    head = await services.updates.head(ann.user_id)
    added = (await gql.data(COLLECT, {"p": pack["id"]}, token=ann.access_token))["stickerCollectionAdd"]["package"]
    assert added == {"id": pack["id"], "inCollection": True}
    updates = (await gql.data(UPDATES, {"s": head}, token=ann.access_token))["syncGetUpdates"]["updates"]
    assert updates == [
        {"__typename": "StickerCollectionEvent", "seq": head + 1, "packageId": pack["id"], "added": True}
    ]
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    sticker = {"sticker": {"packageId": pack["id"], "stickerId": pack["stickers"][0]["id"]}}
    sent = await gql.data(SEND, {"c": str(channel), "id": "s1", "content": sticker}, token=ann.access_token)
    assert sent["messageSend"]["message"]["content"] == {
        "__typename": "StickerContent",
        "packageId": pack["id"],
        "stickerId": pack["stickers"][0]["id"],
        "fileId": images[0].id,
        "emoji": "😺",
    }


async def test_the_native_gateway_has_the_same_routes_and_takes_bytes_as_upload(
    settings_factory: Callable[..., Settings],
) -> None:
    from app.main import build_api

    port = free_port()
    settings = settings_factory(gateway={"tcp_port": port, "listeners": [{"protocol": "tcp", "host": "127.0.0.1"}]})
    services = runtime.build_services(settings)
    await runtime.start(services)
    gateway = Gateway(api=build_api(settings), services=services)
    await gateway.start()
    try:
        ann = await factories.account(services, "ann")
        conn = await NativeConnection.open(Endpoint("tcp", "127.0.0.1", port), ping_interval=None, rpc_timeout=20)
        await conn.connect(ann.access_token, device_id=ann.device_id)
        data = media.jpeg(50, 40)
        uploaded: dict[str, Any] = await conn.call(
            "file/upload", {"file": data, "purpose": "MESSAGE", "name": "a.jpg", "mime": "image/jpeg"}
        )
        assert (uploaded["file"]["status"], uploaded["file"]["width"]) == ("READY", 50)
        granted = await conn.call(
            "file/request_upload_token", {"name": "b.pdf", "size": 100, "mime": "application/pdf", "purpose": "MESSAGE"}
        )
        assert set(granted) == {"fileId", "uploadUrl", "token", "expiresAt"}
        link = await conn.call("file/get_url", {"fileId": uploaded["file"]["id"]})
        assert "/api/app/files/" + uploaded["file"]["id"] in link["url"]
        with pytest.raises(RpcError) as info:
            await conn.call(
                "file/upload", {"file": b"%PDF-1.4 not an image", "purpose": "MESSAGE", "mime": "image/png"}
            )
        assert info.value.code == "BAD_USER_INPUT"
        with pytest.raises(RpcError) as info:
            await conn.call("file/get_url", {"fileId": "0" * 32})
        assert info.value.code == "NOT_FOUND"
        await conn.close()
    finally:
        await gateway.close()
        await runtime.stop(services)


async def test_browsers_on_allowed_origins_may_use_tus_and_read_its_headers(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(http={"cors_origins": ["https://chat.example.org"]})
    services = runtime.build_services(settings)
    await runtime.start(services)
    try:
        transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://files.test") as http:
            preflight = await http.options(
                "/api/app/files/tus/some-key",
                headers={
                    "origin": "https://chat.example.org",
                    "access-control-request-method": "PATCH",
                    "access-control-request-headers": "tus-resumable, upload-offset, content-type",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == "https://chat.example.org"
            assert "PATCH" in preflight.headers["access-control-allow-methods"]
            ann = await factories.account(services, "ann")
            t = await services.files.request_upload(
                ann.principal, name="a.pdf", size=len(media.pdf()), mime="application/pdf", purpose="message"
            )
            created = await http.post(
                path(t.upload_url),
                headers={
                    "origin": "https://chat.example.org",
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": str(len(media.pdf())),
                },
            )
            assert created.status_code == 201
            exposed = created.headers["access-control-expose-headers"].lower()
            assert "location" in exposed and "upload-offset" in exposed
            other = await http.options(
                "/api/app/files/tus/some-key",
                headers={"origin": "https://evil.example", "access-control-request-method": "PATCH"},
            )
            assert "access-control-allow-origin" not in other.headers
    finally:
        await runtime.stop(services)
