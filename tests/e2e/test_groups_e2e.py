"""Groups end to end: a real server, real clients over GraphQL WebSocket running the sync
algorithm. Create, invite, approval, mute-all and kick, with live events, a kicked member
cut off at once (also across processes), and an offline member catching up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support import backends
from tests.support.backends import DatabaseFactory
from tests.support.server import ServerProcess
from tests.support.sync_client import ClientError, SyncClient

PASSWORD = "e2e-groups-pass-7"
CREATE = (
    "mutation($n: String!, $m: [ID!]!) { groupGroupCreate(input: {name: $n, memberIds: $m}) { group { id name } } }"
)
INFO = "query($g: ID!) { groupGroupInfo(input: {groupId: $g}) { group { pts memberCount } } }"
ADD = """mutation($g: ID!, $u: [ID!]!) { groupMemberAdd(input: {groupId: $g, userIds: $u}) {
  addedUserIds pendingUserIds refusedUserIds } }"""
REMOVE = "mutation($g: ID!, $u: ID!) { groupMemberRemove(input: {groupId: $g, userId: $u}) { ok } }"
MEMBERS = "query($g: ID!) { groupMemberList(input: {groupId: $g, limit: 50}) { members { userId role } } }"
UPDATE = (
    "mutation($i: GroupSettingsUpdateInput!) { groupSettingsUpdate(input: $i) { group { settings { joinApproval } } } }"
)
HANDLE = "mutation($g: ID!, $u: ID!) { groupApprovalHandle(input: {groupId: $g, userId: $u, approve: true}) { group { memberCount } } }"
MUTE_ALL = "mutation($g: ID!, $e: Boolean!) { groupSettingsMuteAll(input: {groupId: $g, enabled: $e}) { group { settings { muteAll } } } }"
DIFF = "query($c: ID!) { syncGetDifference(input: {channelId: $c, fromPts: 0, limit: 10}) { pts } }"


@dataclass
class Member(SyncClient):
    """A sync client that also records every live item it is pushed."""

    live: list[dict[str, Any]] = field(default_factory=list)
    _pushed: asyncio.Event = field(default_factory=asyncio.Event)

    async def _on_live(self, event: dict[str, Any]) -> None:
        self.live.append(event)
        self._pushed.set()
        await super()._on_live(event)

    async def until(self, predicate: Callable[[], bool], within: float = 15.0) -> None:
        """Wait until `predicate` holds, re-checking after each live item."""
        async with asyncio.timeout(within):
            while True:
                self._pushed.clear()
                if predicate():
                    return
                await self._pushed.wait()

    def live_kinds(self, group: str) -> list[str]:
        return [e["kind"] for e in self.live if e.get("channelId") == group and "kind" in e]

    def live_updates(self, typename: str) -> list[dict[str, Any]]:
        return [e for e in self.live if e["__typename"] == typename]


async def member(server: ServerProcess, name: str, *, device: str = "phone", register: bool = True) -> Member:
    client = Member(server.base_url, name, PASSWORD, device)
    if register:
        await client.register()
    await client.login()
    return client


async def head(client: SyncClient, group: str) -> int:
    return int((await client.gql(INFO, {"g": group}))["groupGroupInfo"]["group"]["pts"])


def lines(client: SyncClient, group: str) -> list[str]:
    """Texts of the messages and system lines the client holds, in pts order."""
    return [m["content"].get("text", "<system>") for m in client.messages.get(group, [])]


async def test_create_invite_approve_mute_all_kick_and_catch_up(live_server: ServerProcess) -> None:
    s = uuid.uuid4().hex[:6]
    ann, bob, carol, dan, eve = [await member(live_server, f"{n}{s}") for n in ("ann", "bob", "carol", "dan", "eve")]
    clients = [ann, bob, carol, dan, eve]
    try:
        for c in (ann, bob, carol, eve):  # dan stays offline until the end
            await c.connect()
        created = await ann.gql(CREATE, {"n": "Trip", "m": [bob.user_id, carol.user_id]})
        gid = created["groupGroupCreate"]["group"]["id"]
        assert created["groupGroupCreate"]["group"]["name"] == "Trip"
        await bob.wait_for(gid, await head(ann, gid))
        assert bob.live_kinds(gid)[:1] == ["group_created"]
        assert [u["channelId"] for u in bob.live_updates("ChannelAddedEvent")] == [gid]

        # an admin's invitation adds at once (dan is offline)
        added = (await ann.gql(ADD, {"g": gid, "u": [dan.user_id]}))["groupMemberAdd"]
        assert added["addedUserIds"] == [dan.user_id]
        await ann.send_text(gid, "welcome dan")
        await carol.send_text(gid, "hi all")

        # approval: a member's invitation waits for the owner, who is told live
        await ann.gql(UPDATE, {"i": {"groupId": gid, "joinApproval": True}})
        pending = (await bob.gql(ADD, {"g": gid, "u": [eve.user_id]}))["groupMemberAdd"]
        assert (pending["addedUserIds"], pending["pendingUserIds"]) == ([], [eve.user_id])
        await ann.until(lambda: bool(ann.live_updates("GroupJoinRequestReceivedEvent")))
        assert ann.live_updates("GroupJoinRequestReceivedEvent")[0]["groupId"] == gid
        assert eve.user_id not in [
            m["userId"] for m in (await ann.gql(MEMBERS, {"g": gid}))["groupMemberList"]["members"]
        ]
        await ann.gql(HANDLE, {"g": gid, "u": eve.user_id})
        await eve.until(lambda: bool(eve.live_updates("GroupJoinRequestHandledEvent")))
        assert eve.live_updates("GroupJoinRequestHandledEvent")[0]["approved"] is True
        await eve.wait_for(gid, await head(ann, gid))  # history is visible: eve got all of it
        assert "welcome dan" in lines(eve, gid)

        # mute-all: members are refused, the owner speaks
        await ann.gql(MUTE_ALL, {"g": gid, "e": True})
        with pytest.raises(ClientError) as refused:
            await carol.send_text(gid, "can I still talk?")
        assert refused.value.code == "FORBIDDEN"
        await ann.send_text(gid, "quiet please")
        await ann.gql(MUTE_ALL, {"g": gid, "e": False})
        await carol.send_text(gid, "thanks")

        # kick: carol is told live and receives nothing of the group from then on
        await bob.wait_for(gid, await head(ann, gid))
        await carol.wait_for(gid, await head(ann, gid))
        await ann.gql(REMOVE, {"g": gid, "u": carol.user_id})
        await carol.until(lambda: bool(carol.live_updates("ChannelRemovedEvent")))
        removed = carol.live_updates("ChannelRemovedEvent")[0]
        assert (removed["channelId"], removed["reason"]) == (gid, "removed")
        carol_pts = carol.channel_pts[gid]
        await ann.send_text(gid, "carol is gone")
        await bob.wait_for(gid, await head(ann, gid))
        await asyncio.sleep(0.5)
        assert carol.channel_pts[gid] == carol_pts
        assert "carol is gone" not in lines(carol, gid)
        for attempt in (carol.send_text(gid, "wait!"), carol.gql(DIFF, {"c": gid})):
            with pytest.raises(ClientError) as gone:
                await attempt
            assert gone.value.code == "NOT_FOUND"

        # every member online saw the changes live, in pts order
        assert bob.live_applied > 0 and bob.resyncs == 0
        for kind in ("member_joined", "group_settings_changed", "mute_all_changed", "member_removed"):
            assert kind in bob.live_kinds(gid), kind
        assert "can I still talk?" not in lines(bob, gid)

        # the offline member catches up on everything, in order, once
        await dan.connect()
        final = await head(ann, gid)
        assert dan.channel_pts[gid] == bob.channel_pts[gid] == final
        assert lines(dan, gid) == lines(bob, gid)
        assert [m["content"].get("text") for m in dan.messages[gid] if m["content"]][-1] == "carol is gone"
        await ann.send_text(gid, "dan is live now")
        await dan.wait_for(gid, final + 1)
        assert dan.live_applied >= 1
    finally:
        for c in clients:
            await c.close()


@pytest.fixture(scope="module")
def pair_of_servers(server_factory: Callable[..., ServerProcess], db_factory: DatabaseFactory) -> list[ServerProcess]:
    if not backends.IS_POSTGRES:
        pytest.skip("several processes need PostgreSQL + Redis (PRIVCHAT_TEST_BACKEND=postgres)")
    database = asyncio.run(db_factory.new())
    prefix = "gr" + uuid.uuid4().hex[:8]
    return [server_factory(database=database, key_prefix=prefix) for _ in range(2)]


async def test_a_member_removed_through_one_process_is_cut_off_on_another(pair_of_servers: list[ServerProcess]) -> None:
    a, b = pair_of_servers
    s = uuid.uuid4().hex[:6]
    ann = await member(a, f"ann{s}")
    bob = await member(b, f"bob{s}")
    carol = await member(b, f"carol{s}")
    try:
        await bob.connect()  # live on process B
        await carol.connect()
        gid = (await ann.gql(CREATE, {"n": "Nodes", "m": [bob.user_id, carol.user_id]}))["groupGroupCreate"]["group"][
            "id"
        ]
        for i in range(5):
            await ann.send_text(gid, f"via-a-{i}")  # through process A
        await bob.wait_for(gid, await head(ann, gid))
        await ann.gql(REMOVE, {"g": gid, "u": bob.user_id})
        await bob.until(lambda: bool(bob.live_updates("ChannelRemovedEvent")))
        bob_pts = bob.channel_pts[gid]
        for i in range(5):
            await ann.send_text(gid, f"after-{i}")
        await carol.wait_for(gid, await head(ann, gid))
        await asyncio.sleep(0.5)
        assert bob.channel_pts[gid] == bob_pts
        assert not [t for t in lines(bob, gid) if t.startswith("after-")]
        assert [t for t in lines(carol, gid) if t.startswith("after-")] == [f"after-{i}" for i in range(5)]
    finally:
        for c in (ann, bob, carol):
            await c.close()
