"""Read state: read, read_batch, counts, who read a message, and conversation settings."""

from __future__ import annotations

import asyncio

from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient

READ = "mutation($c: ID!, $p: Int!) { messageStatusRead(input: {channelId: $c, pts: $p}) { channelId readPts unread } }"
BATCH = """mutation($items: [ReadItem!]!) { messageStatusReadBatch(input: {items: $items}) {
  results { channelId readPts unread ok errorCode } } }"""
COUNT = "query { messageStatusCount { channels { channelId unread mentioned } total } }"


async def test_read_clears_unread_and_tells_the_other_devices_and_the_peer(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann", device_id="phone")
    ann_tablet = await factories.login(services, "ann", device_id="tablet")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    for i in range(3):
        await factories.send_text(services, bob, channel, f"m{i}")
    assert (await gql.data(COUNT, token=ann.access_token))["messageStatusCount"]["total"] == 3
    tablet = services.hub.stream(ann_tablet.principal)
    peer = services.hub.stream(bob.principal)
    tablet_next, peer_next = asyncio.create_task(tablet.__anext__()), asyncio.create_task(peer.__anext__())
    await asyncio.sleep(0.05)
    data = (await gql.data(READ, {"c": str(channel), "p": 2}, token=ann.access_token))["messageStatusRead"]
    assert data == {"channelId": str(channel), "readPts": 2, "unread": 1}
    own = await asyncio.wait_for(tablet_next, 5)
    assert own["kind"] == "read" and own["payload"]["channels"] == [{"channelId": channel, "readPts": 2}]
    seen = await asyncio.wait_for(peer_next, 5)
    assert seen["kind"] == "peer_read" and seen["payload"] == {"channelId": channel, "userId": ann.user_id, "readPts": 2}
    # reading backwards never moves the position back
    assert (await gql.data(READ, {"c": str(channel), "p": 1}, token=ann.access_token))["messageStatusRead"]["readPts"] == 2
    await tablet.aclose()
    await peer.aclose()


async def test_hidden_read_receipts_are_not_sent_to_the_peer(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    await factories.send_text(services, bob, channel, "hi")
    await gql.data("mutation { accountPrivacyUpdate(input: {showReadReceipts: false}) { settings { showReadReceipts } } }",
                   token=ann.access_token)
    await gql.data(READ, {"c": str(channel), "p": 1}, token=ann.access_token)
    updates = await services.updates.get_since(bob.principal, since=0, limit=50)
    assert "peer_read" not in [u.kind for u in updates.updates]


async def test_reading_beyond_the_head_or_elsewhere_is_refused(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    await factories.send_text(services, bob, channel, "hi")
    assert (await gql.execute(READ, {"c": str(channel), "p": 2}, token=ann.access_token)).error_code == "BAD_USER_INPUT"
    assert (await gql.execute(READ, {"c": str(channel), "p": -1}, token=ann.access_token)).error_code == "BAD_USER_INPUT"
    eve = await factories.account(services, "eve")
    assert (await gql.execute(READ, {"c": str(channel), "p": 1}, token=eve.access_token)).error_code == "NOT_FOUND"


async def test_read_batch_marks_many_channels_in_one_call(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    pals = [await factories.account(services, f"pal{i}") for i in range(6)]
    channels = [await factories.direct_channel(services, ann, p) for p in pals]
    for p, c in zip(pals, channels, strict=True):
        await factories.send_text(services, p, c, "one")
        await factories.send_text(services, p, c, "two")
    items = [{"channelId": str(c), "pts": 2} for c in channels[:5]] + [{"channelId": "999999", "pts": 1},
                                                                      {"channelId": str(channels[5]), "pts": 9}]
    results = (await gql.data(BATCH, {"items": items}, token=ann.access_token))["messageStatusReadBatch"]["results"]
    assert [r["ok"] for r in results] == [True] * 5 + [False, False]
    assert [r["errorCode"] for r in results[5:]] == ["NOT_FOUND", "BAD_USER_INPUT"]
    assert all(r["readPts"] == 2 and r["unread"] == 0 for r in results[:5])
    counts = (await gql.data(COUNT, token=ann.access_token))["messageStatusCount"]
    assert counts["total"] == 2
    # the reader's devices got one update for the whole batch
    updates = await services.updates.get_since(ann.principal, since=0, limit=50)
    reads = [u for u in updates.updates if u.kind == "read"]
    assert len(reads) == 1 and len(reads[0].payload["channels"]) == 5
    assert (await gql.execute(BATCH, {"items": []}, token=ann.access_token)).error_code == "BAD_USER_INPUT"


async def test_read_list_and_stats_for_a_group_message(services: Services, gql: GraphQLClient) -> None:
    owner = await factories.account(services, "owner")
    members = [await factories.account(services, f"member{i}") for i in range(4)]
    group = await factories.group_channel(services, owner, members)
    pts = await factories.send_text(services, owner, group, "announcement")
    history = await services.messaging.history(owner.principal, group, before_pts=None, after_pts=None, limit=1, newest_first=True)
    message_id = str(history.messages[0].id)
    for m in members[:3]:
        await gql.data(READ, {"c": str(group), "p": pts}, token=m.access_token)
    await gql.data("mutation { accountPrivacyUpdate(input: {showReadReceipts: false}) { settings { showReadReceipts } } }",
                   token=members[2].access_token)
    q = "query($m: ID!) { messageStatusReadList(input: {messageId: $m}) { userIds hasMore } }"
    readers = (await gql.data(q, {"m": message_id}, token=owner.access_token))["messageStatusReadList"]
    assert sorted(readers["userIds"]) == sorted(str(m.user_id) for m in members[:2]) and not readers["hasMore"]
    stats_q = "query($m: ID!) { messageStatusReadStats(input: {messageId: $m}) { readCount unreadCount } }"
    stats = (await gql.data(stats_q, {"m": message_id}, token=owner.access_token))["messageStatusReadStats"]
    assert stats == {"readCount": 2, "unreadCount": 1}  # the hidden reader is counted nowhere
    assert (await gql.execute(q, {"m": message_id}, token=members[0].access_token)).error_code == "FORBIDDEN"


async def test_conversation_settings_sync_across_devices(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    pals = [await factories.account(services, f"pal{i}") for i in range(3)]
    channels = [await factories.direct_channel(services, ann, p) for p in pals]
    for p, c in zip(pals, channels, strict=True):
        await factories.send_text(services, p, c, "hello")
    pin = "mutation($c: ID!, $v: Boolean!) { channelPin(input: {channelId: $c, pinned: $v}) { conversation { pinned } } }"
    hide = "mutation($c: ID!) { channelHide(input: {channelId: $c}) { conversation { channel { id } } } }"
    mute = "mutation($c: ID!) { channelMute(input: {channelId: $c}) { conversation { muted } } }"
    assert (await gql.data(pin, {"c": str(channels[0]), "v": True}, token=ann.access_token))["channelPin"]["conversation"]["pinned"]
    await gql.data(hide, {"c": str(channels[1])}, token=ann.access_token)
    assert (await gql.data(mute, {"c": str(channels[2])}, token=ann.access_token))["channelMute"]["conversation"]["muted"]
    listing = "query { channelList { conversations { channel { id } pinned muted } } }"
    rows = (await gql.data(listing, token=ann.access_token))["channelList"]["conversations"]
    assert [int(r["channel"]["id"]) for r in rows] == [channels[0], channels[2]]  # pinned first, hidden left out
    assert rows[1]["muted"] is True
    # a new message unhides
    await factories.send_text(services, pals[1], channels[1], "are you there?")
    rows = (await gql.data(listing, token=ann.access_token))["channelList"]["conversations"]
    assert [int(r["channel"]["id"]) for r in rows] == [channels[0], channels[1], channels[2]]
    kinds = [u.kind for u in (await services.updates.get_since(ann.principal, since=0, limit=50)).updates]
    assert kinds.count("conversation_settings") == 3
    assert (await gql.execute(pin, {"c": "424242", "v": True}, token=ann.access_token)).error_code == "NOT_FOUND"
