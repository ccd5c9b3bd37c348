"""message/forward through GraphQL: copies keep type and content and are marked forwarded;
each target is checked like a send and answered on its own; retries store nothing twice."""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy import update
from sqlmodel import col

from app.channels.tables import ChannelMember
from app.db.types import now_ms
from app.messaging.content import MessageType
from app.messaging.service import SendRequest
from app.runtime import Services
from tests.support import factories, files
from tests.support.graphql import GraphQLClient

FORWARD = """mutation($r: String!, $m: [ID!]!, $c: [ID!]!) { messageForward(input: {requestId: $r, messageIds: $m, channelIds: $c}) {
  results { channelId ok errorCode errorMessage
            messages { id channelId pts senderId type forwardedFromId replyToId mentions
                       content { __typename ... on TextContent { text } ... on LocationContent { latitude longitude title }
                                 ... on FileContent { fileId name size } } } } } }"""
HISTORY = """query($c: ID!) { messageHistoryGet(input: {channelId: $c, limit: 100, order: OLDEST_FIRST}) {
  messages { id pts forwardedFromId content { ... on TextContent { text } } } } }"""
_ids = itertools.count(1)


async def send(services: Services, sender: factories.Account, channel_id: int, content: dict | str, **kw) -> int:
    kind, body = (MessageType.TEXT, {"text": content}) if isinstance(content, str) else content.popitem()
    message = await services.messaging.send(
        sender.principal,
        SendRequest(channel_id=channel_id, client_msg_id=f"f-{next(_ids)}", type=MessageType(kind), content=body, **kw),
    )
    assert message.id is not None
    return message.id


async def forward(gql: GraphQLClient, acct: factories.Account, request_id: str, messages: list, channels: list) -> list[dict]:
    data = await gql.data(FORWARD, {"r": request_id, "m": [str(m) for m in messages], "c": [str(c) for c in channels]},
                          token=acct.access_token)
    return data["messageForward"]["results"]


async def forward_error(gql: GraphQLClient, acct: factories.Account, request_id: str, messages: list, channels: list) -> str | None:
    result = await gql.execute(FORWARD, {"r": request_id, "m": [str(m) for m in messages], "c": [str(c) for c in channels]},
                               token=acct.access_token)
    return result.error_code


async def texts(gql: GraphQLClient, acct: factories.Account, channel: int) -> list[str]:
    data = await gql.data(HISTORY, {"c": str(channel)}, token=acct.access_token)
    return [m["content"]["text"] for m in data["messageHistoryGet"]["messages"]]


async def trio(services: Services) -> tuple[factories.Account, factories.Account, factories.Account, int, int]:
    """ann chats with bob (the source) and with carl (a target)."""
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carl = await factories.account(services, "carl")
    return ann, bob, carl, await factories.direct_channel(services, ann, bob), await factories.direct_channel(services, ann, carl)


async def test_copies_keep_type_and_content_and_are_marked_forwarded(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    dave = await factories.account(services, "dave")
    to_dave = await factories.direct_channel(services, ann, dave)
    await factories.send_text(services, carl, to_carl, "already here")
    text = await send(services, bob, source, "look at this", mentions=(ann.user_id,))
    place = await send(services, ann, source, {"location": {"latitude": 52.52, "longitude": 13.405, "title": "Berlin"}})
    pdf = await files.upload(services, bob, files.pdf(), name="a.pdf", mime="application/pdf")
    doc = await send(services, bob, source, {"file": {"fileId": pdf.id, "name": "a.pdf", "size": 10}}, reply_to_id=text)
    # picked in any order: forwarded in the conversation's order
    results = await forward(gql, ann, "fw-1", [doc, text, place], [to_carl, to_dave])
    assert [(r["channelId"], r["ok"], r["errorCode"]) for r in results] == [(str(to_carl), True, None), (str(to_dave), True, None)]
    for result, first_pts in zip(results, (2, 1), strict=True):
        copies = result["messages"]
        assert [m["pts"] for m in copies] == [first_pts, first_pts + 1, first_pts + 2]  # contiguous
        assert [m["forwardedFromId"] for m in copies] == [str(text), str(place), str(doc)]
        assert [m["type"] for m in copies] == ["TEXT", "LOCATION", "FILE"]
        assert all(m["senderId"] == str(ann.user_id) and m["channelId"] == result["channelId"] for m in copies)
        assert copies[0]["content"] == {"__typename": "TextContent", "text": "look at this"}
        assert copies[1]["content"] == {"__typename": "LocationContent", "latitude": 52.52, "longitude": 13.405, "title": "Berlin"}
        # the file's size is the server's, and the copy shares the file
        assert copies[2]["content"] == {"__typename": "FileContent", "fileId": pdf.id, "name": "a.pdf", "size": len(files.pdf())}
        # reply and mentions belong to the source channel
        assert copies[0]["mentions"] == [] and copies[2]["replyToId"] is None
    history = (await gql.data(HISTORY, {"c": str(to_carl)}, token=carl.access_token))["messageHistoryGet"]["messages"]
    assert [m["forwardedFromId"] for m in history] == [None, str(text), str(place), str(doc)]


async def test_forwarding_a_forward_points_at_the_original(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    original = await send(services, bob, source, "original")
    first = (await forward(gql, ann, "fw-a", [original], [to_carl]))[0]["messages"][0]
    again = (await forward(gql, carl, "fw-b", [first["id"]], [to_carl]))[0]["messages"][0]
    assert first["forwardedFromId"] == again["forwardedFromId"] == str(original)
    assert again["senderId"] == str(carl.user_id)


async def test_each_target_is_checked_like_a_send(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    message = await send(services, bob, source, "pass it on")
    not_mine = await factories.direct_channel(services, bob, carl)
    dave = await factories.account(services, "dave")
    to_dave = await factories.direct_channel(services, ann, dave)
    await gql.data("mutation($u: ID!) { contactBlacklistAdd(input: {userId: $u}) { __typename } }",
                   {"u": str(ann.user_id)}, token=dave.access_token)
    muted_in = await factories.group_channel(services, carl, [ann])
    async with services.db.transaction() as tx:
        await tx.session.execute(
            update(ChannelMember)
            .where(col(ChannelMember.channel_id) == muted_in, col(ChannelMember.user_id) == ann.user_id)
            .values(muted_until=now_ms() + 3_600_000))
    targets = [to_carl, not_mine, 987654321, to_dave, muted_in, source]
    results = await forward(gql, ann, "fw-check", [message], targets)
    assert [(r["channelId"], r["ok"], r["errorCode"]) for r in results] == [
        (str(to_carl), True, None),
        (str(not_mine), False, "NOT_FOUND"),
        (str(987654321), False, "NOT_FOUND"),
        (str(to_dave), False, "FORBIDDEN"),
        (str(muted_in), False, "FORBIDDEN"),
        (str(source), True, None),  # back into its own channel is a forward like any other
    ]
    # a channel you are not in reads exactly like one that does not exist
    assert results[1]["errorMessage"] == results[2]["errorMessage"]
    assert all(r["messages"] == [] for r in results if not r["ok"])
    assert await texts(gql, ann, to_carl) == ["pass it on"]
    assert await texts(gql, ann, to_dave) == [] and await texts(gql, carl, muted_in) == []
    assert await texts(gql, bob, not_mine) == []


async def test_retrying_a_forward_stores_nothing_twice(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    one, two = await send(services, bob, source, "one"), await send(services, bob, source, "two")
    group = await factories.group_channel(services, carl, [])
    first = await forward(gql, ann, "fw-retry", [one, two], [to_carl, group])
    assert [r["ok"] for r in first] == [True, False]
    # ann joins the group; the retried request completes what was missing, and only that
    async with services.db.transaction() as tx:
        from app.channels import store as channel_store

        await channel_store.add_member(tx.session, ChannelMember(channel_id=group, user_id=ann.user_id, joined_at=now_ms()))
    second = await forward(gql, ann, "fw-retry", [one, two], [to_carl, group])
    assert second[0] == first[0]
    assert second[1]["ok"] and [m["pts"] for m in second[1]["messages"]] == [1, 2]
    assert await texts(gql, carl, to_carl) == ["one", "two"] and await texts(gql, carl, group) == ["one", "two"]
    # a new request id is a new forward
    third = await forward(gql, ann, "fw-other", [one], [to_carl])
    assert third[0]["messages"][0]["pts"] == 3


async def test_concurrent_retries_of_one_forward_store_it_once(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    messages = [await send(services, bob, source, f"m{i}") for i in range(3)]
    answers = await asyncio.gather(*[forward(gql, ann, "fw-race", messages, [to_carl, source]) for _ in range(5)])
    assert all(a == answers[0] for a in answers)
    assert await texts(gql, carl, to_carl) == ["m0", "m1", "m2"]
    assert await texts(gql, ann, source) == ["m0", "m1", "m2"] * 2


async def test_sources_must_be_messages_the_forwarder_sees(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    mine = await send(services, bob, source, "fine")
    foreign_channel = await factories.direct_channel(services, bob, carl)
    foreign = await send(services, bob, foreign_channel, "not for ann")
    errors = []
    for sources in ([foreign], [mine, foreign], [987654321]):
        result = await gql.execute(FORWARD, {"r": "fw-x", "m": [str(s) for s in sources], "c": [str(to_carl)]},
                                   token=ann.access_token)
        assert result.error_code == "NOT_FOUND"
        errors.append(result.errors[0]["message"])
    assert len(set(errors)) == 1
    recalled = await send(services, ann, source, "oops")
    await services.messaging.revoke(ann.principal, recalled)
    assert await forward_error(gql, ann, "fw-y", [mine, recalled], [to_carl]) == "CONFLICT"
    history = (await gql.data(HISTORY, {"c": str(source)}, token=ann.access_token))["messageHistoryGet"]["messages"]
    system_line = history[-1]["id"]  # "ann recalled a message"
    assert await forward_error(gql, ann, "fw-z", [system_line], [to_carl]) == "BAD_USER_INPUT"
    # a member who joined later cannot forward what was said before
    group = await factories.group_channel(services, bob, [])
    early = await send(services, bob, group, "before ann")
    async with services.db.transaction() as tx:
        from app.channels import store as channel_store

        await channel_store.add_member(tx.session, ChannelMember(
            channel_id=group, user_id=ann.user_id, joined_at=now_ms(), visible_from_pts=1))
    assert await forward_error(gql, ann, "fw-w", [early], [to_carl]) == "NOT_FOUND"
    # nothing of all that reached carl
    assert await texts(gql, carl, to_carl) == []


async def test_request_bounds_and_ids_are_checked(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    message = await send(services, bob, source, "x")
    many = [str(i) for i in range(1, 52)]
    for request_id, messages, channels in (
        ("fw", [], [to_carl]),
        ("fw", many, [to_carl]),
        ("fw", [message], []),
        ("fw", [message], [str(i) for i in range(1, 22)]),
        ("", [message], [to_carl]),
        ("has space", [message], [to_carl]),
        ("x" * 65, [message], [to_carl]),
        ("ünïcode", [message], [to_carl]),
        ("fw", ["abc"], [to_carl]),
        ("fw", [message], ["-3"]),
    ):
        assert await forward_error(gql, ann, request_id, messages, channels) == "BAD_USER_INPUT", (request_id, messages, channels)
    # duplicates count once
    results = await forward(gql, ann, "fw-dup", [message, message], [to_carl, to_carl])
    assert len(results) == 1 and len(results[0]["messages"]) == 1
    assert await texts(gql, carl, to_carl) == ["x"]


async def test_forwarded_copies_reach_the_target_live_and_through_sync(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carl, source, to_carl = await trio(services)
    message = await send(services, bob, source, "news")
    stream = services.hub.stream(carl.principal)
    pending = asyncio.create_task(stream.__anext__())
    await asyncio.sleep(0.05)
    copy = (await forward(gql, ann, "fw-live", [message], [to_carl]))[0]["messages"][0]
    item = await asyncio.wait_for(pending, 5)
    assert item["kind"] == "message" and item["pts"] == 1
    assert item["message"]["forwardedFromId"] == message and item["message"]["content"] == {"text": "news"}
    await stream.aclose()
    diff = await gql.data(
        "query($c: ID!) { syncGetDifference(input: {channelId: $c, fromPts: 0, limit: 10}) { events { __typename "
        "... on MessageEvent { pts message { id forwardedFromId } } } } }", {"c": str(to_carl)}, token=carl.access_token)
    assert diff["syncGetDifference"]["events"] == [
        {"__typename": "MessageEvent", "pts": 1, "message": {"id": copy["id"], "forwardedFromId": str(message)}}]


async def test_the_native_door_answers_like_graphql(api, services: Services, gql: GraphQLClient) -> None:
    from app.context import RequestContext

    ann, bob, carl, source, to_carl = await trio(services)
    message = await send(services, bob, source, "via the gateway")
    ctx = RequestContext(services=services, transport="test", token=ann.access_token)
    native = await api.call("message/forward", ctx, {"requestId": "gw-1", "messageIds": [str(message)],
                                                     "channelIds": [str(to_carl), "987654321"]})
    assert [(r["ok"], r["errorCode"]) for r in native["results"]] == [(True, None), (False, "NOT_FOUND")]
    # the same request through GraphQL is a retry: the same copy, nothing new
    again = await forward(gql, ann, "gw-1", [message], [to_carl])
    assert again[0]["messages"][0]["id"] == native["results"][0]["messages"][0]["id"]
    assert await texts(gql, carl, to_carl) == ["via the gateway"]


async def test_a_group_that_forbids_forwarding_refuses_its_messages_as_sources(
    services: Services, gql: GraphQLClient
) -> None:
    ann, bob, carl, _source, to_carl = await trio(services)
    created = await gql.data("mutation($m: [ID!]!) { groupGroupCreate(input: {name: \"quiet\", memberIds: $m}) { group { id } refusedUserIds } }",
                             {"m": [str(ann.user_id)]}, token=bob.access_token)
    assert created["groupGroupCreate"]["refusedUserIds"] == []
    group = int(created["groupGroupCreate"]["group"]["id"])
    said = await send(services, bob, group, "group talk")
    assert (await forward(gql, ann, "fw-g1", [said], [to_carl]))[0]["ok"]
    await gql.data("mutation($g: ID!) { groupSettingsUpdate(input: {groupId: $g, forbidForward: true}) { group { id } } }",
                   {"g": str(group)}, token=bob.access_token)
    assert await forward_error(gql, ann, "fw-g2", [said], [to_carl]) == "FORBIDDEN"
    assert await texts(gql, carl, to_carl) == ["group talk"]  # only the copy made before
    # forwarding *into* the group is still a send like any other
    elsewhere = await send(services, carl, to_carl, "from outside")
    assert (await forward(gql, ann, "fw-g3", [elsewhere], [group]))[0]["ok"]


async def test_forwarding_a_card_is_sharing_it(services: Services, gql: GraphQLClient) -> None:
    """bob received carol's card from her friend ann; carol hides from search, so bob may
    not pass her card on by forwarding it, exactly as he may not share it."""
    from tests.support.social import befriend, set_privacy

    ann, bob, carl, from_ann, _ = await trio(services)
    bob_carl = await factories.direct_channel(services, bob, carl)
    carol = await factories.account(services, "carol")
    await befriend(gql, ann, carol)
    await set_privacy(gql, carol, findByUsername="NOBODY", findByPhone="NOBODY", findByEmail="NOBODY")
    card = await send(services, ann, from_ann, {"card": {"userId": carol.user_id}})
    [result] = await forward(gql, bob, "fw-card", [card], [bob_carl])
    assert (result["ok"], result["errorCode"], result["errorMessage"]) == (False, "NOT_FOUND", "user not found")
    own = await send(services, bob, from_ann, {"card": {"userId": bob.user_id}})
    [result] = await forward(gql, bob, "fw-own-card", [own], [bob_carl])
    assert result["ok"], result
