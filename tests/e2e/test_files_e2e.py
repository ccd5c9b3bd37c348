"""Files end to end: a real server process, real clients (tuspy, httpx as a GraphQL client
and a browser-like downloader), on the local source and on an S3 server (moto, 127.0.0.1).

- a 100 MB tus upload cut off mid-request at ~60% resumes with stock tuspy from the
  offset the server kept, and the published file is byte-identical;
- an image message sent over GraphQL is downloaded by another member with a Range
  request; a removed member is refused; the file of a revoked message is gone.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tusclient import client as tus_client
from tusclient.uploader import Uploader

from tests.support import files as media
from tests.support.graphql import GraphQLClient
from tests.support.s3 import CREDENTIALS, MotoServer
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(300)

MB = 1_000_000
SERVICE_KEY = "e2e-files-service-key-" + "s" * 16
PASSWORD = "e2e-password-42"
REGISTER = (
    "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }"
)
LOGIN = """mutation($u: String!, $p: String!, $d: String!) {
  accountAuthLogin(input: {username: $u, password: $p, deviceId: $d, platform: "linux"}) { accessToken user { id } } }"""
REQUEST = """mutation($i: FileRequestUploadTokenInput!) { fileRequestUploadToken(input: $i) { fileId uploadUrl } }"""
CALLBACK = """mutation($f: ID!) { fileUploadCallback(input: {fileId: $f}) { file { id status size sha256 width height thumbnailFileId } } }"""
GROUP = """mutation($n: String!, $m: [ID!]!) { groupGroupCreate(input: {name: $n, memberIds: $m}) { group { id } } }"""
SEND = """mutation($c: ID!, $id: String!, $f: String!) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: {image: {fileId: $f, caption: "sunset"}}}) {
    message { id content { ... on ImageContent { fileId width height thumbnailFileId blurhash } } } } }"""
HISTORY = """query($c: ID!) { messageHistoryGet(input: {channelId: $c, limit: 20}) { messages { id type
  content { __typename ... on ImageContent { fileId width height } } } } }"""
REMOVE = "mutation($g: ID!, $u: ID!) { groupMemberRemove(input: {groupId: $g, userId: $u}) { ok } }"
REVOKE = "mutation($m: ID!) { messageRevoke(input: {messageId: $m}) { message { id revoked } } }"
SWEEP = "mutation { adminFileSweep { deletedFiles deletedBlobs } }"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["local", "s3"])
def server(request: pytest.FixtureRequest, server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    env = {"PRIVCHAT_SERVICE_KEY": SERVICE_KEY}
    if request.param == "s3":
        moto: MotoServer = request.getfixturevalue("moto")
        bucket = "e2e-" + uuid.uuid4().hex[:10]
        moto.create_bucket(bucket)
        source = {"id": 1, "kind": "s3", "bucket": bucket, "endpoint_url": moto.endpoint, "region": "us-east-1"}
        env.update(CREDENTIALS)
        env["PRIVCHAT_FILE__STORAGE_SOURCES"] = json.dumps([{"id": 0, "kind": "local"}, source])
        env["PRIVCHAT_FILE__DEFAULT_SOURCE"] = "1"
    return server_factory(extra_env=env)


@pytest.fixture
async def gql(server: ServerProcess) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        yield GraphQLClient(http)


async def user(gql: GraphQLClient, name: str) -> tuple[str, str]:
    """(user id, access token) of a new user."""
    username = f"{name}{uuid.uuid4().hex[:6]}"
    await gql.data(REGISTER, {"u": username, "p": PASSWORD})
    login = (await gql.data(LOGIN, {"u": username, "p": PASSWORD, "d": "pc"}))["accountAuthLogin"]
    return login["user"]["id"], login["accessToken"]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_an_interrupted_100_mb_tus_upload_resumes_with_tuspy(
    server: ServerProcess, gql: GraphQLClient, tmp_path: Path
) -> None:
    _, token = await user(gql, "ann")
    size = 100 * MB
    data = os.urandom(size // 4) * 4
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    request = {"name": "big.bin", "size": size, "mime": "application/octet-stream", "purpose": "MESSAGE"}
    granted = (await gql.data(REQUEST, {"i": request}, token=token))["fileRequestUploadToken"]
    # a stock tus client creates the upload: no header of ours, the URL carries the token
    client = tus_client.TusClient(granted["uploadUrl"])
    location = await asyncio.to_thread(Uploader(file_path=str(source), client=client).create_url)
    cut = 60 * MB

    async def until_the_cut() -> AsyncIterator[bytes]:
        for start in range(0, cut, MB):
            yield data[start : start + MB]
        raise ConnectionResetError("the network went away at 60%")

    headers = {"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    async with httpx.AsyncClient(timeout=60) as http:
        with pytest.raises((ConnectionResetError, httpx.HTTPError)):
            await http.patch(location, content=until_the_cut(), headers={**headers, "Content-Length": str(size)})
        # the server keeps what reached it; an empty PATCH at its offset succeeds once it
        # has finished with the broken request (423 while that one still holds the upload)
        for _ in range(600):
            head = await http.head(location, headers={"Tus-Resumable": "1.0.0"})
            offset = int(head.headers["upload-offset"])
            probe = await http.patch(location, content=b"", headers={**headers, "Upload-Offset": str(offset)})
            if probe.status_code == 204:
                break
            assert probe.status_code in (409, 423), probe.text
            await asyncio.sleep(0.1)
        assert cut - 4 * MB <= offset <= cut, offset
    # tuspy resumes from the server's offset and sends only the rest
    resumed = await asyncio.to_thread(Uploader, file_path=str(source), url=location, chunk_size=32 * MB)
    assert resumed.offset == offset
    await asyncio.to_thread(resumed.upload)
    assert resumed.offset == size
    file = (await gql.data(CALLBACK, {"f": granted["fileId"]}, token=token))["fileUploadCallback"]["file"]
    assert (file["status"], file["size"], file["sha256"]) == ("READY", size, hashlib.sha256(data).hexdigest())
    async with httpx.AsyncClient(timeout=120) as http:
        digest = hashlib.sha256()
        async with http.stream(
            "GET", f"{server.service_url}/api/app/files/{granted['fileId']}", headers=auth(token)
        ) as body:
            assert body.status_code == 200
            async for chunk in body.aiter_bytes():
                digest.update(chunk)
    assert digest.hexdigest() == file["sha256"]


async def test_an_image_message_is_read_by_members_with_ranges_and_lost_by_removal_and_revocation(
    server: ServerProcess, gql: GraphQLClient
) -> None:
    _, ann = await user(gql, "ann")
    bob_id, bob = await user(gql, "bob")
    carol_id, carol = await user(gql, "carol")
    group = (await gql.data(GROUP, {"n": "Trip", "m": [bob_id, carol_id]}, token=ann))["groupGroupCreate"]["group"][
        "id"
    ]
    photo = media.jpeg(800, 600, gps=True)
    request = {"name": "sunset.jpg", "size": len(photo), "mime": "image/jpeg", "purpose": "MESSAGE"}
    granted = (await gql.data(REQUEST, {"i": request}, token=ann))["fileRequestUploadToken"]
    # the upload URL is on the service port of the host the client called
    assert granted["uploadUrl"].startswith(f"http://127.0.0.1:{server.http_port}/api/app/files/uploads/")
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.put(granted["uploadUrl"], content=photo)).status_code == 200
        sent = (await gql.data(SEND, {"c": group, "id": "p1", "f": granted["fileId"]}, token=ann))["messageSend"][
            "message"
        ]
        assert (sent["content"]["width"], sent["content"]["height"]) == (800, 600)
        assert sent["content"]["thumbnailFileId"] and sent["content"]["blurhash"]
        seen = (await gql.data(HISTORY, {"c": group}, token=bob))["messageHistoryGet"]["messages"]
        image = next(m for m in seen if m["type"] == "IMAGE")["content"]
        url = f"{server.service_url}/api/app/files/{image['fileId']}"
        whole = await http.get(url, headers=auth(bob))
        assert whole.status_code == 200 and whole.headers["content-type"] == "image/jpeg"
        assert b"PrivChat Camera" not in whole.content  # EXIF gone
        ranged = await http.get(url, headers={**auth(bob), "range": "bytes=100-1099"})
        assert ranged.status_code == 206 and ranged.content == whole.content[100:1100]
        # a plain GET with no header works through a signed link (as in <img src>)
        link = await gql.data(
            "query($f: ID!) { fileGetUrl(input: {fileId: $f}) { url } }", {"f": image["fileId"]}, token=carol
        )
        assert (await http.get(link["fileGetUrl"]["url"])).status_code == 200
        # a removed member is refused, with the same answer as for a file that does not exist
        await gql.data(REMOVE, {"g": group, "u": carol_id}, token=ann)
        refused = await http.get(url, headers=auth(carol))
        missing = await http.get(f"{server.service_url}/api/app/files/{'0' * 32}", headers=auth(carol))
        assert refused.status_code == missing.status_code == 404 and refused.json() == missing.json()
        assert (await http.get(link["fileGetUrl"]["url"])).status_code == 404
        # revoked: unreachable at once, then deleted from the source
        await gql.data(REVOKE, {"m": sent["id"]}, token=ann)
        assert (await http.get(url, headers=auth(bob))).status_code == 404
        swept = await http.post(server.graphql_url, json={"query": SWEEP}, headers={"x-service-key": SERVICE_KEY})
        assert swept.json()["data"]["adminFileSweep"]["deletedBlobs"] >= 1
        assert (await http.get(url, headers=auth(ann))).status_code == 404
