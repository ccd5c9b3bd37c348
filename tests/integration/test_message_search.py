"""message/history/search: substring search over the caller's channels (PostgreSQL
trigram index, SQLite FTS5), with filters and pages; never revoked, foreign or
not-yet-visible messages; hostile queries are refused or matched literally."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text

from app.messaging import search_store
from app.messaging.content import MessageType
from app.messaging.service import SendRequest
from app.runtime import Services
from tests.support import factories, files
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient, GraphQLResult

SEARCH = """query($i: MessageHistorySearchInput!) { messageHistorySearch(input: $i) {
  messages { id channelId senderId type createdAt revoked
             content { __typename ... on TextContent { text } ... on ImageContent { caption } ... on FileContent { name } } }
  nextCursor } }"""


async def search(gql: GraphQLClient, who: Account, query: str, **filters: Any) -> GraphQLResult:
    return await gql.execute(SEARCH, {"i": {"query": query, **filters}}, token=who.access_token)


async def texts(gql: GraphQLClient, who: Account, query: str, **filters: Any) -> list[str]:
    page = (await search(gql, who, query, **filters)).data["messageHistorySearch"]
    return [_body(m) for m in page["messages"]]


def _body(m: dict[str, Any]) -> str:
    c = m["content"]
    return c.get("text") or c.get("caption") or c.get("name")


async def send(services: Services, sender: Account, channel: int, kind: MessageType, content: dict[str, Any]) -> int:
    message = await services.messaging.send(
        sender.principal,
        SendRequest(
            channel_id=channel, client_msg_id=f"s-{kind.value}-{abs(hash(str(content)))}", type=kind, content=content
        ),
    )
    assert message.id is not None
    return message.id


async def trio(services: Services) -> tuple[Account, Account, Account, int, int]:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    eve = await factories.account(services, "eve")
    return (
        ann,
        bob,
        eve,
        await factories.direct_channel(services, ann, bob),
        await factories.direct_channel(services, bob, eve),
    )


async def test_finds_words_in_my_channels_newest_first(services: Services, gql: GraphQLClient) -> None:
    ann, bob, eve, ab, be = await trio(services)
    for line in ("Hello world", "say hello to the team", "nothing here", "HELLO again"):
        await factories.send_text(services, ann, ab, line)
    await factories.send_text(services, eve, be, "hello from eve")  # ann is not in this channel
    assert await texts(gql, ann, "hello") == ["HELLO again", "say hello to the team", "Hello world"]
    assert await texts(gql, bob, "hello") == ["hello from eve", "HELLO again", "say hello to the team", "Hello world"]
    assert await texts(gql, ann, "ell") == ["HELLO again", "say hello to the team", "Hello world"]  # substrings
    assert await texts(gql, ann, "hello   world") == ["Hello world"]  # every word must occur
    assert await texts(gql, ann, "world hello") == ["Hello world"]  # in any order
    assert await texts(gql, ann, "he") == ["HELLO again", "nothing here", "say hello to the team", "Hello world"]
    assert await texts(gql, ann, "w") == ["Hello world"]  # one character works too
    assert await texts(gql, ann, "goodbye") == []
    assert await texts(gql, eve, "team") == []


async def test_non_latin_text(services: Services, gql: GraphQLClient) -> None:
    ann, bob, _, ab, _ = await trio(services)
    await factories.send_text(services, ann, ab, "你好世界 今天天气很好")
    await factories.send_text(services, bob, ab, "Grüße aus München")
    await factories.send_text(services, bob, ab, "emoji 🎉 party")
    assert await texts(gql, bob, "世界") == ["你好世界 今天天气很好"]
    assert await texts(gql, bob, "今天天气") == ["你好世界 今天天气很好"]
    assert await texts(gql, ann, "münchen") == ["Grüße aus München"]
    assert await texts(gql, ann, "🎉") == ["emoji 🎉 party"]


async def test_captions_and_file_names_are_searched_system_lines_are_not(
    services: Services, gql: GraphQLClient
) -> None:
    ann, bob, _, ab, _ = await trio(services)
    photo = await files.upload(services, ann, files.png(), mime="image/png")
    sheet = await files.upload(services, ann, files.pdf(), mime="application/pdf")
    await send(services, ann, ab, MessageType.IMAGE, {"fileId": photo.id, "caption": "sunset at the beach"})
    await send(services, ann, ab, MessageType.FILE, {"fileId": sheet.id, "name": "beach-budget.xlsx", "size": 10})
    await send(services, ann, ab, MessageType.LOCATION, {"latitude": 1.0, "longitude": 2.0, "title": "beach bar"})
    await factories.send_text(services, bob, ab, "see you at the beach")
    async with services.db.transaction() as tx:
        await services.log.append_system_message(
            tx, channel_id=ab, actor_id=ann.user_id, text="beach party created", kind="test", recipients=[]
        )
    assert await texts(gql, bob, "beach") == ["see you at the beach", "beach-budget.xlsx", "sunset at the beach"]
    assert await texts(gql, bob, "beach", types=["IMAGE", "FILE"]) == ["beach-budget.xlsx", "sunset at the beach"]
    assert await texts(gql, bob, "beach", types=["SYSTEM"]) == []
    assert await texts(gql, bob, "beach", types=["LOCATION", "AUDIO"]) == []


async def test_filters_by_channel_sender_and_date(services: Services, gql: GraphQLClient) -> None:
    ann, bob, eve, ab, be = await trio(services)
    for sender, channel, line in ((ann, ab, "plan A"), (bob, ab, "plan B"), (eve, be, "plan C")):
        await factories.send_text(services, sender, channel, line)
        await asyncio.sleep(0.005)  # distinct timestamps
    everything = (await search(gql, bob, "plan")).data["messageHistorySearch"]["messages"]
    assert [_body(m) for m in everything] == ["plan C", "plan B", "plan A"]
    assert await texts(gql, bob, "plan", channelId=str(ab)) == ["plan B", "plan A"]
    assert await texts(gql, bob, "plan", senderId=str(ann.user_id)) == ["plan A"]
    assert await texts(gql, bob, "plan", channelId=str(be), senderId=str(bob.user_id)) == []
    stamps = {_body(m): _ms(m["createdAt"]) for m in everything}
    assert await texts(gql, bob, "plan", createdAfter=stamps["plan B"]) == ["plan C", "plan B"]
    assert await texts(gql, bob, "plan", createdBefore=stamps["plan B"]) == ["plan A"]
    assert await texts(gql, bob, "plan", createdAfter=stamps["plan A"], createdBefore=stamps["plan C"]) == [
        "plan B",
        "plan A",
    ]
    assert await texts(gql, bob, "plan", createdAfter=0, createdBefore=stamps["plan A"]) == []
    # a channel you are not in, or that does not exist, is not found (existence never leaks)
    assert (await search(gql, ann, "plan", channelId=str(be))).error_code == "NOT_FOUND"
    assert (await search(gql, ann, "plan", channelId="987654")).error_code == "NOT_FOUND"


def _ms(iso: str) -> int:
    from datetime import datetime

    return round(datetime.fromisoformat(iso).timestamp() * 1000)


async def test_pages_with_a_cursor(services: Services, gql: GraphQLClient) -> None:
    ann, bob, _, ab, _ = await trio(services)
    for i in range(25):
        await factories.send_text(services, ann if i % 2 else bob, ab, f"note {i:02d}")
    seen: list[str] = []
    cursor = None
    for expected in (10, 10, 5):
        page = (await search(gql, ann, "note", limit=10, cursor=cursor)).data["messageHistorySearch"]
        assert len(page["messages"]) == expected
        seen += [_body(m) for m in page["messages"]]
        cursor = page["nextCursor"]
    assert cursor is None
    assert seen == [f"note {i:02d}" for i in reversed(range(25))]
    exact = (await search(gql, ann, "note", limit=25)).data["messageHistorySearch"]
    assert len(exact["messages"]) == 25 and exact["nextCursor"] is None


async def test_revoked_messages_are_never_found(services: Services, gql: GraphQLClient) -> None:
    ann, bob, _, ab, _ = await trio(services)
    await factories.send_text(services, ann, ab, "secret plan one")
    keep = await services.messaging.send(
        ann.principal,
        SendRequest(channel_id=ab, client_msg_id="r-1", type=MessageType.TEXT, content={"text": "secret plan two"}),
    )
    assert keep.id is not None
    await services.messaging.revoke(ann.principal, keep.id)
    assert await texts(gql, bob, "secret") == ["secret plan one"]
    assert await texts(gql, bob, "plan two") == []
    if services.db.is_sqlite:  # the trigger took it out of the index, not just the query
        async with services.db.read() as session:
            rows = (await session.execute(text("SELECT rowid FROM messages_fts WHERE body LIKE '%two%'"))).all()
        assert rows == []


async def test_only_what_a_group_member_may_see(services: Services, gql: GraphQLClient) -> None:
    from app.groups.service import SettingsChanges

    ann, bob, carol = [await factories.account(services, name) for name in ("ann", "bob", "carol")]
    created = await services.groups.create(ann.principal, name="g", member_ids=[bob.user_id])
    assert created.group.channel.id is not None
    group = created.group.channel.id
    await services.groups.update_settings(ann.principal, group, SettingsChanges(history_visible=False))
    await factories.send_text(services, ann, group, "memo before carol")
    await services.groups.members.add(ann.principal, group, [carol.user_id])
    await factories.send_text(services, bob, group, "memo after carol")
    assert await texts(gql, carol, "memo") == ["memo after carol"]
    assert await texts(gql, bob, "memo") == ["memo after carol", "memo before carol"]
    await services.groups.members.leave(bob.principal, group)
    assert await texts(gql, bob, "memo") == []  # left: the group is no longer searched
    assert (await search(gql, bob, "memo", channelId=str(group))).error_code == "NOT_FOUND"


async def test_metacharacters_are_matched_literally(services: Services, gql: GraphQLClient) -> None:
    ann, bob, _, ab, _ = await trio(services)
    lines = [
        "100% sure",
        "snake_case name",
        "back\\slash",
        'say "quoted" words',
        "it's fine",
        "a*b and c^d",
        "NEAR(x y) col:value",
        "plain words only",
    ]
    for line in lines:
        await factories.send_text(services, ann, ab, line)
    assert await texts(gql, bob, "%") == ["100% sure"]
    assert await texts(gql, bob, "0%") == ["100% sure"]
    assert await texts(gql, bob, "_") == ["snake_case name"]
    assert await texts(gql, bob, "e_c") == ["snake_case name"]
    assert await texts(gql, bob, "\\") == ["back\\slash"]
    assert await texts(gql, bob, 'y "quo') == ['say "quoted" words']
    assert await texts(gql, bob, '"') == ['say "quoted" words']
    assert await texts(gql, bob, "'s") == ["it's fine"]
    assert await texts(gql, bob, "a*b") == ["a*b and c^d"]
    assert await texts(gql, bob, "*") == ["a*b and c^d"]
    assert await texts(gql, bob, "NEAR(x") == ["NEAR(x y) col:value"]
    assert await texts(gql, bob, "col:value") == ["NEAR(x y) col:value"]
    for hostile in (
        "' OR 1=1 --",
        "plain OR sure",
        "words AND NOT only",
        "plain*",
        "^plain",
        "x'); DROP TABLE messages; --",
        "body:plain",
        "{plain}",
        "plain NEAR sure",
        "%%%",
        "__",
    ):
        assert (await search(gql, bob, hostile)).data["messageHistorySearch"]["messages"] == [], hostile
    assert await texts(gql, bob, "plain") == ["plain words only"]  # and the table is still there


async def test_bad_queries_are_refused(services: Services, gql: GraphQLClient) -> None:
    ann, bob, _, ab, _ = await trio(services)
    await factories.send_text(services, ann, ab, "hello")
    bad: list[dict[str, Any]] = [
        {"query": "x" * 10_240},
        {"query": "hello " * 2_000},
        {"query": " ".join(f"w{i}" for i in range(9))},
        {"query": ""},
        {"query": "   \t\n "},
        {"query": "hel\x00lo"},
        {"query": "bell\x07"},
        {"query": "hello", "limit": 0},
        {"query": "hello", "limit": 51},
        {"query": "hello", "cursor": "not-a-cursor"},
        {"query": "hello", "cursor": "x" * 5000},
        {"query": "hello", "createdAfter": -1},
        {"query": "hello", "createdAfter": 10, "createdBefore": 10},
        {"query": "hello", "channelId": "abc"},
        {"query": "hello", "senderId": "-1"},
    ]
    for variables in bad:
        r = await gql.execute(SEARCH, {"i": variables}, token=bob.access_token)
        assert r.error_code == "BAD_USER_INPUT", (variables, r.body)
    assert (await gql.execute(SEARCH, {"i": {"query": "hello"}})).error_code == "UNAUTHENTICATED"
    # a lone surrogate is valid JSON ("\ud800") but not text any database can store
    body = json.dumps({"query": SEARCH, "variables": {"i": {"query": "hi \ud800"}}})
    response = await gql.http.post(
        "/graphql",
        content=body.encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {bob.access_token}"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await texts(gql, bob, "hello") == ["hello"]


@pytest.mark.parametrize("strategy", ["window", "trigram", "scan"])
async def test_every_search_strategy_gives_the_same_exact_pages(
    services: Services, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    """PostgreSQL answers from the newest window, the trigram index or a scan of the
    user's channels (app/messaging/search_store.py); force each and compare."""
    if strategy != "window":
        monkeypatch.setattr(search_store, "WINDOW_BUDGET", 1)  # windows of 8 rows: step 1 is cut off
    if strategy == "scan":
        monkeypatch.setattr(search_store, "CANDIDATE_CAP", 0)  # step 2 gives up
    steps: list[str] = []
    run = search_store._PgQuery.run

    async def spy(self: Any, session: Any, sql: str, **extra: object) -> list[Any]:
        steps.append("trigram" if "MATERIALIZED" in sql else "scan" if "|| ''" in sql else "window")
        return await run(self, session, sql, **extra)

    monkeypatch.setattr(search_store._PgQuery, "run", spy)
    ann, bob, eve, ab, be = await trio(services)
    other = await factories.direct_channel(services, ann, eve)
    sent: list[str] = []  # ann's needles, in the order sent
    for i in range(40):
        line = f"needle {i}" if i % 7 == 0 else f"hay {i}"
        await factories.send_text(services, ann if i % 2 else bob, ab, line)
        if line.startswith("needle"):
            sent.append(line)
        if i % 10 == 0:
            await factories.send_text(services, eve, other, f"needle other {i}")
            sent.append(f"needle other {i}")
            await factories.send_text(services, eve, be, f"needle foreign {i}")  # not ann's
    seen: list[str] = []
    cursor = None
    while True:
        page = (await search(gql, ann, "needle", limit=3, cursor=cursor)).data["messageHistorySearch"]
        seen += [_body(m) for m in page["messages"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(sent))
    if not services.db.is_sqlite:
        assert strategy in steps and (strategy == "scan" or "scan" not in steps), steps
    assert await texts(gql, ann, "hay", limit=4) == ["hay 39", "hay 38", "hay 37", "hay 36"]
    assert await texts(gql, ann, "needle", channelId=str(other), limit=2) == ["needle other 30", "needle other 20"]
    assert await texts(gql, ann, "ee", senderId=str(eve.user_id), limit=1) == ["needle other 30"]
