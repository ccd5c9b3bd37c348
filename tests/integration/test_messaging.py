"""message/send, history, channels: the messaging core through GraphQL."""

from __future__ import annotations

import asyncio

import pytest

from app.runtime import Services
from tests.support import factories, files
from tests.support.files import sticker_pack
from tests.support.graphql import GraphQLClient

SEND = """mutation($c: ID!, $id: String!, $content: MessageContentInput!, $reply: ID, $mentions: [ID!]) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: $content, replyToId: $reply, mentions: $mentions}) {
    message { id channelId pts senderId type createdAt clientMsgId revoked
              content { __typename ... on TextContent { text } ... on LocationContent { latitude longitude title }
                        ... on FileContent { fileId name size mimeType } ... on CardContent { userId } } } } }"""
HISTORY = """query($c: ID!, $before: Int, $after: Int, $limit: Int!, $order: HistoryOrder!) {
  messageHistoryGet(input: {channelId: $c, beforePts: $before, afterPts: $after, limit: $limit, order: $order}) {
    messages { pts content { ... on TextContent { text } } } hasMore } }"""
OPEN = """mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id pts kind } } }"""


async def pair(services: Services) -> tuple[factories.Account, factories.Account, int]:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    return ann, bob, await factories.direct_channel(services, ann, bob)


def text(t: str) -> dict:
    return {"text": {"text": t}}


async def test_direct_channel_is_one_per_pair(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    first = (await gql.data(OPEN, {"u": str(bob.user_id)}, token=ann.access_token))["channelDirectGetOrCreate"]
    second = (await gql.data(OPEN, {"u": str(ann.user_id)}, token=bob.access_token))["channelDirectGetOrCreate"]
    assert first["channel"]["id"] == second["channel"]["id"]
    assert first["channel"] == {"id": first["channel"]["id"], "pts": 0, "kind": "DIRECT"}
    # both users learn of the new channel through their update sequence
    for acct in (ann, bob):
        updates = await services.updates.get_since(acct.principal, since=0, limit=10)
        assert [(u.kind, u.payload["channelId"]) for u in updates.updates] == [("channel_added", int(first["channel"]["id"]))]


async def test_direct_channel_with_self_or_nobody_is_refused(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    assert (await gql.execute(OPEN, {"u": str(ann.user_id)}, token=ann.access_token)).error_code == "BAD_USER_INPUT"
    assert (await gql.execute(OPEN, {"u": "987654"}, token=ann.access_token)).error_code == "NOT_FOUND"


async def test_concurrent_get_or_create_makes_one_channel(services: Services) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    ids = await asyncio.gather(*[factories.direct_channel(services, ann, bob) for _ in range(5)],
                               *[factories.direct_channel(services, bob, ann) for _ in range(5)])
    assert len(set(ids)) == 1


async def test_send_returns_the_stored_message_with_the_next_pts(services: Services, gql: GraphQLClient) -> None:
    ann, _bob, channel = await pair(services)
    sent = []
    for i in range(3):
        data = await gql.data(SEND, {"c": str(channel), "id": f"c-{i}", "content": text(f"hi {i}")}, token=ann.access_token)
        sent.append(data["messageSend"]["message"])
    assert [m["pts"] for m in sent] == [1, 2, 3]
    assert sent[0]["content"] == {"__typename": "TextContent", "text": "hi 0"}
    assert sent[0]["senderId"] == str(ann.user_id) and sent[0]["type"] == "TEXT" and sent[0]["revoked"] is False


async def test_retry_with_the_same_client_id_returns_the_original(services: Services, gql: GraphQLClient) -> None:
    ann, _, channel = await pair(services)
    first = await gql.data(SEND, {"c": str(channel), "id": "same", "content": text("original")}, token=ann.access_token)
    again = await gql.data(SEND, {"c": str(channel), "id": "same", "content": text("different!")}, token=ann.access_token)
    assert again == first
    history = await gql.data(HISTORY, {"c": str(channel), "limit": 10, "order": "OLDEST_FIRST"}, token=ann.access_token)
    assert [m["content"]["text"] for m in history["messageHistoryGet"]["messages"]] == ["original"]


async def test_concurrent_retries_store_one_message(services: Services) -> None:
    ann, _, channel = await pair(services)
    pts = await asyncio.gather(*[factories.send_text(services, ann, channel, "x", client_msg_id="dup") for _ in range(8)])
    assert set(pts) == {1}
    assert (await services.messaging.channel_pts(ann.principal, channel))[0].pts == 1


async def test_every_content_type_round_trips(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    pdf = await files.upload(services, ann, files.pdf(), name="report.pdf", mime="application/pdf")
    image = await files.upload(services, ann, files.jpeg(640, 480), mime="image/jpeg")
    audio = await files.upload(services, ann, files.wav(), mime="audio/wav")
    video = await files.upload(services, ann, files.mp4(), mime="video/mp4")
    pack = await sticker_pack(services, ann)
    contents = [
        {"location": {"latitude": 52.52, "longitude": 13.405, "title": "Berlin"}},
        {"file": {"fileId": pdf.id, "name": "report.pdf", "size": 5_000_000_000, "mimeType": "application/pdf"}},
        {"card": {"userId": str(bob.user_id)}},
        {"image": {"fileId": image.id, "width": 640, "height": 480}},
        {"audio": {"fileId": audio.id, "durationMs": 3000}},
        {"video": {"fileId": video.id, "durationMs": 3000}},
        {"sticker": {"packageId": str(pack.pack.id), "stickerId": str(pack.stickers[0].id)}},
    ]
    for i, content in enumerate(contents):
        message = (await gql.data(SEND, {"c": str(channel), "id": f"t{i}", "content": content}, token=ann.access_token))["messageSend"]["message"]
        assert message["type"] == next(iter(content)).upper()
    located = (await gql.data(SEND, {"c": str(channel), "id": "t0", "content": contents[0]}, token=ann.access_token))
    assert located["messageSend"]["message"]["content"] == {"__typename": "LocationContent", "latitude": 52.52, "longitude": 13.405, "title": "Berlin"}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ({"text": {"text": ""}}, "blank"),
        ({"text": {"text": "   "}}, "blank"),
        ({"text": {"text": "x" * 4001}}, "too long"),
        ({}, "no type"),
        ({"text": {"text": "a"}, "sticker": {"packageId": "p", "stickerId": "s"}}, "two types"),
        ({"location": {"latitude": 91, "longitude": 0}}, "latitude"),
        ({"location": {"latitude": 0, "longitude": -180.5}}, "longitude"),
        ({"file": {"fileId": "../etc/passwd", "name": "x", "size": 1}}, "file id"),
        ({"file": {"fileId": "f", "name": "a/b", "size": 1}}, "name"),
        ({"file": {"fileId": "f", "name": "n", "size": -1}}, "size"),
        ({"audio": {"fileId": "f", "durationMs": 0}}, "duration"),
        ({"image": {"fileId": "f", "width": -3}}, "width"),
        ({"card": {"userId": "abc"}}, "card"),
    ],
)
async def test_wrong_content_is_refused_and_nothing_is_stored(services: Services, gql: GraphQLClient, content: dict, why: str) -> None:
    ann, _, channel = await pair(services)
    result = await gql.execute(SEND, {"c": str(channel), "id": "bad", "content": content}, token=ann.access_token)
    assert result.error_code == "BAD_USER_INPUT", (why, result.body)
    assert (await services.messaging.channel_pts(ann.principal, channel))[0].pts == 0


async def test_channels_of_others_and_missing_ones_look_the_same(services: Services, gql: GraphQLClient) -> None:
    _ann, _bob, channel = await pair(services)
    eve = await factories.account(services, "eve")
    foreign = await gql.execute(SEND, {"c": str(channel), "id": "x", "content": text("hi")}, token=eve.access_token)
    missing = await gql.execute(SEND, {"c": "99999999", "id": "x", "content": text("hi")}, token=eve.access_token)
    assert foreign.error_code == missing.error_code == "NOT_FOUND"
    assert foreign.errors[0]["message"] == missing.errors[0]["message"]
    for query in (HISTORY,):
        r = await gql.execute(query, {"c": str(channel), "limit": 5, "order": "NEWEST_FIRST"}, token=eve.access_token)
        assert r.error_code == "NOT_FOUND"


@pytest.mark.parametrize("client_id", ["", "x" * 65, "has space", "tab\t", "ünïcode"])
async def test_bad_client_msg_ids_are_refused(services: Services, gql: GraphQLClient, client_id: str) -> None:
    ann, _, channel = await pair(services)
    result = await gql.execute(SEND, {"c": str(channel), "id": client_id, "content": text("hi")}, token=ann.access_token)
    assert result.error_code == "BAD_USER_INPUT"


async def test_mentions_and_replies_are_checked(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    eve = await factories.account(services, "eve")
    other = await factories.direct_channel(services, ann, eve)
    first = (await gql.data(SEND, {"c": str(channel), "id": "m1", "content": text("hi")}, token=ann.access_token))["messageSend"]["message"]
    elsewhere = (await gql.data(SEND, {"c": str(other), "id": "m2", "content": text("hi")}, token=ann.access_token))["messageSend"]["message"]
    ok = await gql.execute(SEND, {"c": str(channel), "id": "m3", "content": text("re"), "reply": first["id"], "mentions": [str(bob.user_id)]}, token=ann.access_token)
    assert ok.error_code is None
    bad_reply = await gql.execute(SEND, {"c": str(channel), "id": "m4", "content": text("re"), "reply": elsewhere["id"]}, token=ann.access_token)
    assert bad_reply.error_code == "BAD_USER_INPUT"
    bad_mention = await gql.execute(SEND, {"c": str(channel), "id": "m5", "content": text("@eve"), "mentions": [str(eve.user_id)]}, token=ann.access_token)
    assert bad_mention.error_code == "BAD_USER_INPUT"


async def test_history_pages_both_ways(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    for i in range(1, 8):
        await factories.send_text(services, ann if i % 2 else bob, channel, f"m{i}")
    newest = (await gql.data(HISTORY, {"c": str(channel), "limit": 3, "order": "NEWEST_FIRST"}, token=bob.access_token))["messageHistoryGet"]
    assert [m["pts"] for m in newest["messages"]] == [7, 6, 5] and newest["hasMore"]
    older = (await gql.data(HISTORY, {"c": str(channel), "before": 5, "limit": 3, "order": "NEWEST_FIRST"}, token=bob.access_token))["messageHistoryGet"]
    assert [m["pts"] for m in older["messages"]] == [4, 3, 2] and older["hasMore"]
    oldest = (await gql.data(HISTORY, {"c": str(channel), "after": 4, "limit": 10, "order": "OLDEST_FIRST"}, token=bob.access_token))["messageHistoryGet"]
    assert [m["pts"] for m in oldest["messages"]] == [5, 6, 7] and not oldest["hasMore"]
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": 5, "before": -1}, {"limit": 5, "after": -5}):
        r = await gql.execute(HISTORY, {"c": str(channel), "order": "NEWEST_FIRST", **bad}, token=bob.access_token)
        assert r.error_code == "BAD_USER_INPUT", bad
    huge = (await gql.data(HISTORY, {"c": str(channel), "before": 2**31 - 1, "limit": 2, "order": "NEWEST_FIRST"}, token=bob.access_token))["messageHistoryGet"]
    assert [m["pts"] for m in huge["messages"]] == [7, 6]


async def test_history_around_a_message(services: Services, gql: GraphQLClient) -> None:
    ann, _, channel = await pair(services)
    ids = []
    for i in range(1, 11):
        await factories.send_text(services, ann, channel, f"m{i}", client_msg_id=f"a{i}")
    page = await services.messaging.history(ann.principal, channel, before_pts=None, after_pts=None, limit=10, newest_first=False)
    ids = [m.id for m in page.messages]
    q = "query($m: ID!) { messageHistoryAround(input: {messageId: $m, limit: 4}) { messages { pts } hasMoreBefore hasMoreAfter } }"
    data = (await gql.data(q, {"m": str(ids[4])}, token=ann.access_token))["messageHistoryAround"]
    assert [m["pts"] for m in data["messages"]] == [3, 4, 5, 6]
    assert data["hasMoreBefore"] and data["hasMoreAfter"]


async def test_conversation_list_orders_by_activity_and_counts_unread(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    friends = [await factories.account(services, f"pal{i}") for i in range(3)]
    channels = [await factories.direct_channel(services, ann, f) for f in friends]
    await factories.send_text(services, friends[0], channels[0], "first")
    await factories.send_text(services, friends[2], channels[2], "third")
    await factories.send_text(services, friends[2], channels[2], "third again")
    await factories.send_text(services, ann, channels[1], "mine")
    q = """query($cursor: String) { channelList(input: {limit: 2, cursor: $cursor}) { nextCursor
             conversations { channel { id } peerId unreadCount preview lastMessage { pts } } } }"""
    page1 = (await gql.data(q, token=ann.access_token))["channelList"]
    page2 = (await gql.data(q, {"cursor": page1["nextCursor"]}, token=ann.access_token))["channelList"]
    rows = page1["conversations"] + page2["conversations"]
    assert [int(r["channel"]["id"]) for r in rows] == [channels[1], channels[2], channels[0]]
    assert [r["unreadCount"] for r in rows] == [0, 2, 1]
    assert rows[1]["preview"] == "third again" and rows[1]["peerId"] == str(friends[2].user_id)
    assert page2["nextCursor"] is None
    assert (await gql.execute(q, {"cursor": "garbage!!"}, token=ann.access_token)).error_code == "BAD_USER_INPUT"


async def test_a_card_message_lets_the_receiver_apply_with_source_card(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    carol = await factories.account(services, "carol")
    apply = 'mutation($u: ID!) { contactFriendApply(input: {userId: $u, source: CARD, message: "hi"}) { __typename } }'
    before = await gql.execute(apply, {"u": str(carol.user_id)}, token=bob.access_token)
    assert before.error_code is not None  # no card yet
    await gql.data(SEND, {"c": str(channel), "id": "card1", "content": {"card": {"userId": str(carol.user_id)}}}, token=ann.access_token)
    after = await gql.execute(apply, {"u": str(carol.user_id)}, token=bob.access_token)
    assert after.error_code is None, after.body
    missing = await gql.execute(SEND, {"c": str(channel), "id": "card2", "content": {"card": {"userId": "987654"}}}, token=ann.access_token)
    assert missing.error_code == "NOT_FOUND"  # as accountUserShareCard answers: one rule for both
