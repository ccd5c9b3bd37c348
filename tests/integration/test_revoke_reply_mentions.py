"""No editing: recall within two minutes (admins any time), replies quote, mentions flag."""

from __future__ import annotations

import pytest

from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient

REVOKE = "mutation($m: ID!) { messageRevoke(input: {messageId: $m}) { message { id revoked content { __typename } } } }"
HISTORY = """query($c: ID!) { messageHistoryGet(input: {channelId: $c, limit: 50, order: OLDEST_FIRST}) {
  messages { id pts type revoked senderId content { __typename ... on TextContent { text } ... on SystemContent { text kind } }
             replyTo { id preview revoked } } } }"""
DIFF = """query($c: ID!) { syncGetDifference(input: {channelId: $c, fromPts: 0, limit: 100}) {
  events { __typename ... on MessageEvent { pts message { id revoked content { __typename } } }
           ... on MessageRevokedEvent { pts messageId revokedBy } } } }"""
SEND = """mutation($c: ID!, $id: String!, $t: String!, $reply: ID, $mentions: [ID!], $all: Boolean!) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: {text: {text: $t}}, replyToId: $reply, mentions: $mentions, mentionAll: $all}) {
    message { id pts replyTo { id preview revoked } } } }"""


async def pair(services: Services) -> tuple[factories.Account, factories.Account, int]:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    return ann, bob, await factories.direct_channel(services, ann, bob)


async def send(gql: GraphQLClient, acct: factories.Account, channel: int, text: str, cid: str, **kw: object) -> dict:
    variables = {"c": str(channel), "id": cid, "t": text, "reply": None, "mentions": None, "all": False, **kw}
    return (await gql.data(SEND, variables, token=acct.access_token))["messageSend"]["message"]


def test_there_is_no_edit_operation(api) -> None:
    fields = {*api.schema._schema.mutation_type.fields, *api.schema._schema.query_type.fields}
    assert not [f for f in fields if "edit" in f.lower() or ("update" in f.lower() and f.startswith("message"))]


async def test_sender_recalls_and_everyone_sees_it_hidden(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    msg = await send(gql, ann, channel, "oops", "c1")
    revoked = (await gql.data(REVOKE, {"m": msg["id"]}, token=ann.access_token))["messageRevoke"]["message"]
    assert revoked == {"id": msg["id"], "revoked": True, "content": None}
    history = (await gql.data(HISTORY, {"c": str(channel)}, token=bob.access_token))["messageHistoryGet"]["messages"]
    assert [(m["pts"], m["type"], m["revoked"]) for m in history] == [(1, "TEXT", True), (3, "SYSTEM", False)]
    assert history[0]["content"] is None
    assert history[1]["content"] == {"__typename": "SystemContent", "text": "ann recalled a message", "kind": "recall"}
    events = (await gql.data(DIFF, {"c": str(channel)}, token=bob.access_token))["syncGetDifference"]["events"]
    assert [e["__typename"] for e in events] == ["MessageEvent", "MessageRevokedEvent", "MessageEvent"]
    assert events[0]["message"]["revoked"] is True and events[1]["messageId"] == msg["id"]
    # the content is gone from storage, not just hidden
    stored = await services.messaging.history(ann.principal, channel, before_pts=None, after_pts=None, limit=1, newest_first=False)
    assert stored.messages[0].content == {}


async def test_recall_twice_others_and_late_are_refused(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    msg = await send(gql, ann, channel, "hi", "c1")
    assert (await gql.execute(REVOKE, {"m": msg["id"]}, token=bob.access_token)).error_code == "FORBIDDEN"
    await gql.data(REVOKE, {"m": msg["id"]}, token=ann.access_token)
    assert (await gql.execute(REVOKE, {"m": msg["id"]}, token=ann.access_token)).error_code == "CONFLICT"
    services.settings.security.revoke_window_seconds = 0
    late = await send(gql, ann, channel, "too late", "c2")
    import asyncio

    await asyncio.sleep(0.01)
    assert (await gql.execute(REVOKE, {"m": late["id"]}, token=ann.access_token)).error_code == "FORBIDDEN"
    eve = await factories.account(services, "eve")
    assert (await gql.execute(REVOKE, {"m": late["id"]}, token=eve.access_token)).error_code == "NOT_FOUND"
    assert (await gql.execute(REVOKE, {"m": "99999"}, token=ann.access_token)).error_code == "NOT_FOUND"


async def test_group_admins_recall_any_time_members_only_their_own(services: Services, gql: GraphQLClient) -> None:
    owner = await factories.account(services, "owner")
    admin = await factories.account(services, "admin1")
    member = await factories.account(services, "member1")
    group = await factories.group_channel(services, owner, [admin, member], admins=[admin])
    services.settings.security.revoke_window_seconds = 0
    msg = await send(gql, member, group, "spam", "g1")
    import asyncio

    await asyncio.sleep(0.01)
    assert (await gql.execute(REVOKE, {"m": msg["id"]}, token=member.access_token)).error_code == "FORBIDDEN"
    assert (await gql.data(REVOKE, {"m": msg["id"]}, token=admin.access_token))["messageRevoke"]["message"]["revoked"]
    by_owner = await send(gql, admin, group, "admin msg", "g2")
    assert (await gql.execute(REVOKE, {"m": by_owner["id"]}, token=member.access_token)).error_code == "FORBIDDEN"
    assert (await gql.data(REVOKE, {"m": by_owner["id"]}, token=owner.access_token))["messageRevoke"]["message"]["revoked"]


@pytest.mark.parametrize("keep", [True, False])
async def test_audit_keeps_the_original_only_when_enabled(services: Services, gql: GraphQLClient, keep: bool) -> None:
    from sqlalchemy import select

    from app.messaging.tables import RevokedMessageAudit

    services.settings.security.keep_revoked_audit = keep
    ann, _, channel = await pair(services)
    msg = await send(gql, ann, channel, "secret", "c1")
    await gql.data(REVOKE, {"m": msg["id"]}, token=ann.access_token)
    async with services.db.read() as session:
        rows = (await session.execute(select(RevokedMessageAudit))).scalars().all()
    if keep:
        assert [(r.message_id, r.content["content"]) for r in rows] == [(int(msg["id"]), {"text": "secret"})]
    else:
        assert rows == []


async def test_reply_quotes_and_shows_a_later_recall(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    original = await send(gql, ann, channel, "question?", "c1")
    reply = await send(gql, bob, channel, "answer", "c2", reply=original["id"])
    assert reply["replyTo"] == {"id": original["id"], "preview": "question?", "revoked": False}
    await gql.data(REVOKE, {"m": original["id"]}, token=ann.access_token)
    history = (await gql.data(HISTORY, {"c": str(channel)}, token=bob.access_token))["messageHistoryGet"]["messages"]
    quoted = next(m for m in history if m["id"] == reply["id"])
    assert quoted["replyTo"] == {"id": original["id"], "preview": None, "revoked": True}


async def test_mentions_flag_the_conversation_until_read(services: Services, gql: GraphQLClient) -> None:
    owner = await factories.account(services, "owner")
    bob = await factories.account(services, "bob")
    cat = await factories.account(services, "cat")
    group = await factories.group_channel(services, owner, [bob, cat])
    count = "query { messageStatusCount { channels { channelId unread mentioned } total } }"
    msg = await send(gql, owner, group, "@bob look", "m1", mentions=[str(bob.user_id)])
    bob_view = (await gql.data(count, token=bob.access_token))["messageStatusCount"]
    cat_view = (await gql.data(count, token=cat.access_token))["messageStatusCount"]
    assert bob_view["channels"] == [{"channelId": str(group), "unread": 1, "mentioned": True}]
    assert cat_view["channels"] == [{"channelId": str(group), "unread": 1, "mentioned": False}]
    read = "mutation($c: ID!, $p: Int!) { messageStatusRead(input: {channelId: $c, pts: $p}) { readPts unread } }"
    assert (await gql.data(read, {"c": str(group), "p": msg["pts"]}, token=bob.access_token))["messageStatusRead"] == {"readPts": 1, "unread": 0}
    bob_view = (await gql.data(count, token=bob.access_token))["messageStatusCount"]
    assert bob_view["channels"] == [{"channelId": str(group), "unread": 0, "mentioned": False}] and bob_view["total"] == 0


async def test_mention_all_is_for_group_admins(services: Services, gql: GraphQLClient) -> None:
    owner = await factories.account(services, "owner")
    bob = await factories.account(services, "bob")
    group = await factories.group_channel(services, owner, [bob])
    r = await gql.execute(SEND, {"c": str(group), "id": "x", "t": "@all", "reply": None, "mentions": None, "all": True}, token=bob.access_token)
    assert r.error_code == "FORBIDDEN"
    await send(gql, owner, group, "@all meeting", "a1", all=True)
    count = "query { messageStatusCount { channels { mentioned } } }"
    assert (await gql.data(count, token=bob.access_token))["messageStatusCount"]["channels"] == [{"mentioned": True}]
