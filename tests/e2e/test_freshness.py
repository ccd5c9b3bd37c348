"""Rules are decided on fresh facts on every process: a change made through one server
process takes effect for the very next call served by another (no per-process cache of
blocks, friendships, privacy, mutes, memberships or device sessions can lag behind)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess

pytestmark = pytest.mark.skipif(
    not backends.IS_POSTGRES, reason="several processes need PostgreSQL + Redis (PRIVCHAT_TEST_BACKEND=postgres)"
)
PASSWORD = "freshness-pass-1"
SEND = """mutation($c: ID!, $id: String!) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: {text: {text: "hi"}}}) { message { pts } } }"""


@pytest.fixture(scope="module")
def pair(server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory) -> list[ServerProcess]:
    database = asyncio.run(db_factory.new())
    prefix = "fr" + uuid.uuid4().hex[:8]
    return [server_factory(database=database, key_prefix=prefix) for _ in range(2)]


class User:
    def __init__(self, server: ServerProcess, name: str) -> None:
        self.name = name
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=30)
        self.token = ""
        self.id = ""

    def on(self, server: ServerProcess) -> User:
        """The same device, calling another process."""
        other = User(server, self.name)
        other.token, other.id = self.token, self.id
        return other

    async def call(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        return response.json()

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.call(query, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def join(self) -> User:
        await self.data(
            "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }",
            u=self.name,
            p=PASSWORD,
        )
        login = (
            await self.data(
                'mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: "d1",'
                ' platform: "linux"}) { accessToken user { id } } }',
                u=self.name,
                p=PASSWORD,
            )
        )["accountAuthLogin"]
        self.token, self.id = login["accessToken"], login["user"]["id"]
        return self

    async def send(self, channel: str) -> str | None:
        """None when stored; otherwise the refusal's code."""
        body = await self.call(SEND, c=channel, id=uuid.uuid4().hex)
        if body.get("errors"):
            return str(body["errors"][0]["extensions"]["code"])
        return None


async def users(server: ServerProcess, *names: str) -> list[User]:
    suffix = uuid.uuid4().hex[:6]
    return [await User(server, f"{n}{suffix}").join() for n in names]


async def direct(a: User, b: User) -> str:
    data = await a.data("mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id } } }", u=b.id)
    return str(data["channelDirectGetOrCreate"]["channel"]["id"])


async def befriend(a: User, b: User) -> None:
    found = await a.data("query($q: String!) { accountSearchQuery(input: {query: $q}) { results { user { id } searchProof } } }", q=b.name)
    proof = next(r["searchProof"] for r in found["accountSearchQuery"]["results"] if r["user"]["id"] == b.id)
    await a.data(
        "mutation($u: ID!, $p: String) { contactFriendApply(input: {userId: $u, source: SEARCH, searchProof: $p}) { outcome } }",
        u=b.id,
        p=proof,
    )
    await b.data("mutation($u: ID!) { contactFriendAccept(input: {userId: $u}) { channelId } }", u=a.id)


async def group(owner: User, *members: User) -> str:
    data = await owner.data(
        'mutation($m: [ID!]!) { groupGroupCreate(input: {name: "g", memberIds: $m}) { group { id } } }',
        m=[m.id for m in members],
    )
    return str(data["groupGroupCreate"]["group"]["id"])


async def test_a_block_on_one_process_refuses_the_next_message_on_the_other(pair: list[ServerProcess]) -> None:
    a, b = pair
    ann, bob = await users(a, "ann", "bob")
    channel = await direct(ann, bob)
    assert await ann.on(b).send(channel) is None
    await bob.data("mutation($u: ID!) { contactBlacklistAdd(input: {userId: $u}) { entry { user { id } } } }", u=ann.id)
    assert await ann.on(b).send(channel) == "FORBIDDEN"


async def test_an_unfriend_on_one_process_applies_to_the_next_message_on_the_other(pair: list[ServerProcess]) -> None:
    a, b = pair
    ann, bob = await users(a, "ann", "bob")
    await bob.data(
        "mutation { accountPrivacyUpdate(input: {nonFriendsMayMessage: false}) { settings { nonFriendsMayMessage } } }"
    )
    await befriend(ann, bob)
    channel = await direct(ann, bob)
    assert await ann.on(b).send(channel) is None
    await bob.data("mutation($u: ID!) { contactFriendRemove(input: {userId: $u}) { ok } }", u=ann.id)
    assert await ann.on(b).send(channel) == "FORBIDDEN"


async def test_a_privacy_change_on_one_process_applies_on_the_other(pair: list[ServerProcess]) -> None:
    a, b = pair
    ann, bob = await users(a, "ann", "bob")
    channel = await direct(ann, bob)
    assert await ann.on(b).send(channel) is None
    await bob.data(
        "mutation { accountPrivacyUpdate(input: {nonFriendsMayMessage: false}) { settings { nonFriendsMayMessage } } }"
    )
    assert await ann.on(b).send(channel) == "FORBIDDEN"
    await bob.data(
        "mutation { accountPrivacyUpdate(input: {nonFriendsMayMessage: true}) { settings { nonFriendsMayMessage } } }"
    )
    assert await ann.on(b).send(channel) is None


async def test_a_mute_on_one_process_applies_on_the_other(pair: list[ServerProcess]) -> None:
    a, b = pair
    owner, ann = await users(a, "own", "ann")
    channel = await group(owner, ann)
    assert await ann.on(b).send(channel) is None
    await owner.data(
        "mutation($g: ID!, $u: ID!) { groupMemberMute(input: {groupId: $g, userId: $u, durationSeconds: 600}) { member { role } } }",
        g=channel,
        u=ann.id,
    )
    assert await ann.on(b).send(channel) == "FORBIDDEN"


async def test_a_removal_on_one_process_applies_on_the_other(pair: list[ServerProcess]) -> None:
    a, b = pair
    owner, ann = await users(a, "own", "ann")
    channel = await group(owner, ann)
    assert await ann.on(b).send(channel) is None
    await owner.data("mutation($g: ID!, $u: ID!) { groupMemberRemove(input: {groupId: $g, userId: $u}) { ok } }", g=channel, u=ann.id)
    assert await ann.on(b).send(channel) == "NOT_FOUND"


async def test_a_device_kick_on_one_process_refuses_the_next_call_on_the_other(pair: list[ServerProcess]) -> None:
    a, b = pair
    ann, bob = await users(a, "ann", "bob")
    channel = await direct(ann, bob)
    phone = User(a, ann.name)
    phone.token = (
        await phone.data(
            'mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: "d2",'
            ' platform: "ios"}) { accessToken } }',
            u=ann.name,
            p=PASSWORD,
        )
    )["accountAuthLogin"]["accessToken"]
    assert await phone.on(b).send(channel) is None
    await ann.data('mutation { deviceKick(input: {deviceId: "d2"}) { kicked } }')
    assert await phone.on(b).send(channel) == "SESSION_REVOKED"
