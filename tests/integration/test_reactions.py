"""message/reaction/add|remove|list|stats through GraphQL: one reaction per (user, emoji,
message), a configured emoji set, channel events with pts, live and offline delivery."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter

from app.messaging.content import MessageType
from app.messaging.service import SendRequest
from app.runtime import Services
from schema.events import event_object
from tests.support import factories
from tests.support.graphql import GraphQLClient

ADD = """mutation($m: ID!, $e: String!) { messageReactionAdd(input: {messageId: $m, emoji: $e}) {
  changed pts summary { messageId total reactions { emoji count reactedByMe } } } }"""
REMOVE = """mutation($m: ID!, $e: String!) { messageReactionRemove(input: {messageId: $m, emoji: $e}) {
  changed pts summary { total reactions { emoji count reactedByMe } } } }"""
LIST = """query($m: ID!, $e: String, $c: String, $l: Int!) {
  messageReactionList(input: {messageId: $m, emoji: $e, cursor: $c, limit: $l}) { reactions { userId emoji createdAt } nextCursor } }"""
STATS = """query($ids: [ID!]!) { messageReactionStats(input: {messageIds: $ids}) {
  messages { messageId total reactions { emoji count reactedByMe } } } }"""
DIFF = """query($c: ID!, $f: Int!) { syncGetDifference(input: {channelId: $c, fromPts: $f, limit: 500}) {
  events { __typename ... on MessageRevokedEvent { pts } ... on ReactionEvent { channelId pts messageId userId emoji added } ... on MessageEvent { pts } } pts } }"""
THUMBS, HEART, PARTY = "👍", "❤️", "🎉"


async def pair(services: Services) -> tuple[factories.Account, factories.Account, int]:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    return ann, bob, await factories.direct_channel(services, ann, bob)


async def send(services: Services, sender: factories.Account, channel_id: int, text: str = "hi") -> int:
    """The id of a new text message (factories.send_text gives its pts)."""
    message = await services.messaging.send(
        sender.principal,
        SendRequest(channel_id=channel_id, client_msg_id=f"r-{next(_ids)}", type=MessageType.TEXT, content={"text": text}),
    )
    assert message.id is not None
    return message.id


_ids = itertools.count(1)


async def add(gql: GraphQLClient, acct: factories.Account, message_id: int, emoji: str) -> dict:
    return (await gql.data(ADD, {"m": str(message_id), "e": emoji}, token=acct.access_token))["messageReactionAdd"]


async def difference(gql: GraphQLClient, acct: factories.Account, channel: int, from_pts: int = 0) -> dict:
    return (await gql.data(DIFF, {"c": str(channel), "f": from_pts}, token=acct.access_token))["syncGetDifference"]


async def test_a_reaction_is_counted_and_stored_as_a_channel_event(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    first = await add(gql, bob, message, THUMBS)
    assert first == {"changed": True, "pts": 2, "summary": {
        "messageId": str(message), "total": 1, "reactions": [{"emoji": THUMBS, "count": 1, "reactedByMe": True}]}}
    await add(gql, ann, message, HEART)
    third = await add(gql, ann, message, THUMBS)
    # most used first, then the order of first use; reactedByMe is the caller's
    assert third["pts"] == 4 and third["summary"]["total"] == 3
    assert third["summary"]["reactions"] == [
        {"emoji": THUMBS, "count": 2, "reactedByMe": True}, {"emoji": HEART, "count": 1, "reactedByMe": True}]
    stats = (await gql.data(STATS, {"ids": [str(message)]}, token=bob.access_token))["messageReactionStats"]
    assert stats["messages"][0]["reactions"] == [
        {"emoji": THUMBS, "count": 2, "reactedByMe": True}, {"emoji": HEART, "count": 1, "reactedByMe": False}]
    diff = await difference(gql, bob, channel)
    assert diff["pts"] == 4
    assert diff["events"][1:] == [
        {"__typename": "ReactionEvent", "channelId": str(channel), "pts": 2, "messageId": str(message),
         "userId": str(bob.user_id), "emoji": THUMBS, "added": True},
        {"__typename": "ReactionEvent", "channelId": str(channel), "pts": 3, "messageId": str(message),
         "userId": str(ann.user_id), "emoji": HEART, "added": True},
        {"__typename": "ReactionEvent", "channelId": str(channel), "pts": 4, "messageId": str(message),
         "userId": str(ann.user_id), "emoji": THUMBS, "added": True},
    ]


async def test_adding_twice_or_removing_what_is_not_there_changes_nothing(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    assert (await add(gql, bob, message, THUMBS))["changed"] is True
    again = await add(gql, bob, message, THUMBS)
    assert again["changed"] is False and again["pts"] is None and again["summary"]["total"] == 1
    removed = (await gql.data(REMOVE, {"m": str(message), "e": THUMBS}, token=bob.access_token))["messageReactionRemove"]
    assert removed == {"changed": True, "pts": 3, "summary": {"total": 0, "reactions": []}}
    twice = (await gql.data(REMOVE, {"m": str(message), "e": THUMBS}, token=bob.access_token))["messageReactionRemove"]
    assert twice["changed"] is False and twice["pts"] is None
    # no event for the no-ops: the channel's log is message, added, removed
    diff = await difference(gql, ann, channel)
    assert diff["pts"] == 3
    assert [(e["__typename"], e.get("added")) for e in diff["events"]] == [
        ("MessageEvent", None), ("ReactionEvent", True), ("ReactionEvent", False)]


async def test_a_variation_selector_does_not_make_another_emoji(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    await add(gql, bob, message, "❤")  # U+2764 without U+FE0F
    again = await add(gql, bob, message, HEART)  # with it
    assert again["changed"] is False
    assert again["summary"]["reactions"] == [{"emoji": HEART, "count": 1, "reactedByMe": True}]


async def test_emoji_outside_the_configured_set_are_refused(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    for emoji in ("🦄", "", " ", "x" * 33, "👍" * 40, "<script>", "' OR 1=1 --"):
        result = await gql.execute(ADD, {"m": str(message), "e": emoji}, token=bob.access_token)
        assert result.error_code == "BAD_USER_INPUT", emoji
    refused = await gql.execute(ADD, {"m": str(message), "e": "🦄"}, token=bob.access_token)
    assert THUMBS in refused.errors[0]["extensions"]["allowed"]  # the client can show the picker
    await add(gql, bob, message, THUMBS)
    services.settings.messaging.reaction_emoji = ["🦄", "🐙"]
    assert (await add(gql, bob, message, "🦄"))["changed"] is True
    assert (await gql.execute(ADD, {"m": str(message), "e": THUMBS}, token=bob.access_token)).error_code == "BAD_USER_INPUT"
    # reactions made with an emoji dropped from the set since can still be listed and taken back
    listed = (await gql.data(LIST, {"m": str(message), "e": THUMBS, "l": 5}, token=ann.access_token))["messageReactionList"]
    assert [r["emoji"] for r in listed["reactions"]] == [THUMBS]
    removed = (await gql.data(REMOVE, {"m": str(message), "e": THUMBS}, token=bob.access_token))["messageReactionRemove"]
    assert removed["changed"] is True and removed["summary"]["reactions"] == [{"emoji": "🦄", "count": 1, "reactedByMe": True}]


async def test_unknown_and_foreign_messages_are_not_found_alike(services: Services, gql: GraphQLClient) -> None:
    ann, _bob, channel = await pair(services)
    message = await send(services, ann, channel)
    eve = await factories.account(services, "eve")
    errors = []
    for target in (str(message), "987654321"):
        for query, variables in (
            (ADD, {"m": target, "e": THUMBS}),
            (REMOVE, {"m": target, "e": THUMBS}),
            (LIST, {"m": target, "l": 10}),
        ):
            result = await gql.execute(query, variables, token=eve.access_token)
            assert result.error_code == "NOT_FOUND", (query, target)
            errors.append(result.errors[0]["message"])
    assert len(set(errors)) == 1  # the same words whether it exists or not
    # stats leaves out what the caller cannot see, alike
    stats = await gql.data(STATS, {"ids": [str(message), "987654321"]}, token=eve.access_token)
    assert stats["messageReactionStats"]["messages"] == []
    for bad in ("0", "-1", "abc", "99999999999999999999"):
        assert (await gql.execute(ADD, {"m": bad, "e": THUMBS}, token=eve.access_token)).error_code == "BAD_USER_INPUT"


async def test_messages_from_before_a_member_joined_cannot_be_reacted_to(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    group = await factories.group_channel(services, ann, [])
    early = await send(services, ann, group, "before bob")
    await _join(services, group, bob, visible_from_pts=1)
    later = await send(services, ann, group, "after bob")
    assert (await gql.execute(ADD, {"m": str(early), "e": THUMBS}, token=bob.access_token)).error_code == "NOT_FOUND"
    assert (await add(gql, bob, later, THUMBS))["changed"] is True
    stats = await gql.data(STATS, {"ids": [str(early), str(later)]}, token=bob.access_token)
    assert [m["messageId"] for m in stats["messageReactionStats"]["messages"]] == [str(later)]


async def _join(services: Services, channel_id: int, acct: factories.Account, *, visible_from_pts: int) -> None:
    from app.channels import store as channel_store
    from app.channels.tables import ChannelMember
    from app.db.types import now_ms

    async with services.db.transaction() as tx:
        await channel_store.add_member(tx.session, ChannelMember(
            channel_id=channel_id, user_id=acct.user_id, role="member", joined_at=now_ms(), visible_from_pts=visible_from_pts))


async def test_a_recalled_message_takes_no_reactions_and_hides_its_own(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    await add(gql, bob, message, THUMBS)
    await services.messaging.revoke(ann.principal, message)
    for query in (ADD, REMOVE):
        result = await gql.execute(query, {"m": str(message), "e": THUMBS}, token=bob.access_token)
        assert result.error_code == "CONFLICT"
    stats = await gql.data(STATS, {"ids": [str(message)]}, token=bob.access_token)
    assert stats["messageReactionStats"]["messages"] == [{"messageId": str(message), "total": 0, "reactions": []}]
    listed = await gql.data(LIST, {"m": str(message), "l": 10}, token=bob.access_token)
    assert listed["messageReactionList"] == {"reactions": [], "nextCursor": None}


async def test_list_pages_newest_first_and_filters_by_emoji(services: Services, gql: GraphQLClient) -> None:
    owner = await factories.account(services, "owner")
    others = [await factories.account(services, f"member{i}") for i in range(4)]
    group = await factories.group_channel(services, owner, others)
    message = await send(services, owner, group)
    expected = []  # (user, emoji) in the order added
    for acct in [owner, *others]:
        for emoji in (THUMBS, PARTY) if acct is not others[1] else (PARTY,):
            await add(gql, acct, message, emoji)
            expected.append((str(acct.user_id), emoji))
    seen, cursor = [], None
    while True:
        page = (await gql.data(LIST, {"m": str(message), "c": cursor, "l": 3}, token=others[0].access_token))["messageReactionList"]
        assert len(page["reactions"]) <= 3
        seen += [(r["userId"], r["emoji"]) for r in page["reactions"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(expected))
    only = (await gql.data(LIST, {"m": str(message), "e": PARTY, "l": 50}, token=owner.access_token))["messageReactionList"]
    assert [r["userId"] for r in only["reactions"]] == [str(a.user_id) for a in reversed([owner, *others])]
    assert only["nextCursor"] is None
    for variables in ({"l": 0}, {"l": 101}, {"l": 5, "c": "!!"}, {"l": 5, "c": "bm9wZQ"}, {"l": 5, "c": "x" * 300},
                      {"l": 5, "e": "x" * 33}):
        result = await gql.execute(LIST, {"m": str(message), **variables}, token=owner.access_token)
        assert result.error_code == "BAD_USER_INPUT", variables


async def test_stats_for_many_messages_in_one_call(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    carl = await factories.account(services, "carl")
    other = await factories.direct_channel(services, ann, carl)
    first, second = await send(services, ann, channel, "one"), await send(services, bob, channel, "two")
    elsewhere = await send(services, carl, other, "three")
    foreign = await send(services, carl, await factories.direct_channel(services, carl, bob), "not ann's")
    await add(gql, bob, first, THUMBS)
    await add(gql, carl, elsewhere, PARTY)
    await add(gql, ann, elsewhere, PARTY)
    ids = [str(elsewhere), str(foreign), str(second), str(first), str(first)]
    stats = (await gql.data(STATS, {"ids": ids}, token=ann.access_token))["messageReactionStats"]["messages"]
    assert stats == [
        {"messageId": str(elsewhere), "total": 2, "reactions": [{"emoji": PARTY, "count": 2, "reactedByMe": True}]},
        {"messageId": str(second), "total": 0, "reactions": []},
        {"messageId": str(first), "total": 1, "reactions": [{"emoji": THUMBS, "count": 1, "reactedByMe": False}]},
    ]
    for bad in ([], [str(i) for i in range(1, 102)]):
        assert (await gql.execute(STATS, {"ids": bad}, token=ann.access_token)).error_code == "BAD_USER_INPUT"


async def test_concurrent_adds_and_removes_of_one_reaction_converge(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    operations = [ADD, REMOVE] * 8 + [ADD] * 4
    results = await asyncio.gather(*[
        gql.execute(q, {"m": str(message), "e": THUMBS}, token=bob.access_token) for q in operations])
    changes = [r.data.get("messageReactionAdd") or r.data["messageReactionRemove"] for r in results]
    changed = sorted(c["pts"] for c in changes if c["changed"])
    diff = await difference(gql, ann, channel)
    events = [e for e in diff["events"] if e["__typename"] == "ReactionEvent"]
    # one event per real change, with the pts its caller was told, gapless after the message
    assert [e["pts"] for e in events] == changed == list(range(2, 2 + len(changed)))
    # the log alternates (a change always flips the state) and ends in the stored state
    assert [e["added"] for e in events] == [i % 2 == 0 for i in range(len(events))]
    stats = (await gql.data(STATS, {"ids": [str(message)]}, token=bob.access_token))["messageReactionStats"]
    present = stats["messages"][0]["total"] == 1
    assert present == (events[-1]["added"] if events else False)


async def test_concurrent_reactions_of_many_users_keep_pts_gapless(services: Services, gql: GraphQLClient) -> None:
    owner = await factories.account(services, "owner")
    others = [await factories.account(services, f"reactor{i}") for i in range(6)]
    group = await factories.group_channel(services, owner, others)
    message = await send(services, owner, group)
    jobs = [add(gql, acct, message, emoji) for acct in others for emoji in (THUMBS, HEART, PARTY)]
    await asyncio.gather(*jobs)
    diff = await difference(gql, owner, group)
    assert [e["pts"] for e in diff["events"]] == list(range(1, 2 + len(jobs)))
    counted = Counter(e["emoji"] for e in diff["events"] if e["__typename"] == "ReactionEvent")
    assert counted == {THUMBS: 6, HEART: 6, PARTY: 6}


async def test_a_reaction_reaches_other_devices_live_and_offline_ones_through_sync(
    services: Services, gql: GraphQLClient
) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    bob_tablet = await factories.login(services, "bob", device_id="tablet")  # offline: syncs later
    streams = [services.hub.stream(p) for p in (ann.principal, bob.principal)]
    pending = [asyncio.create_task(s.__anext__()) for s in streams]
    await asyncio.sleep(0.05)
    await add(gql, ann, message, PARTY)
    delivered = await asyncio.wait_for(asyncio.gather(*pending), 5)
    for item in delivered:
        assert item["kind"] == "reaction" and item["pts"] == 2
        event = event_object(item)  # what the `events` subscription yields
        assert type(event).__name__ == "ReactionEvent"
        assert (event.message_id, event.user_id, event.emoji, event.added) == (str(message), str(ann.user_id), PARTY, True)
    for s in streams:
        await s.aclose()
    diff = await difference(gql, bob_tablet, channel, from_pts=1)
    assert diff["events"] == [{"__typename": "ReactionEvent", "channelId": str(channel), "pts": 2, "messageId": str(message),
                               "userId": str(ann.user_id), "emoji": PARTY, "added": True}]


async def test_a_non_member_gets_no_reaction_events(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    eve = await factories.account(services, "eve")
    stream = services.hub.stream(eve.principal)
    pending = asyncio.create_task(stream.__anext__())
    await asyncio.sleep(0.05)
    await add(gql, bob, message, THUMBS)
    await asyncio.sleep(0.2)
    assert not pending.done()
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending
    await stream.aclose()


async def test_no_reaction_lands_after_a_concurrent_recall(services: Services, gql: GraphQLClient) -> None:
    owner = await factories.account(services, "owner")
    others = [await factories.account(services, f"racer{i}") for i in range(5)]
    group = await factories.group_channel(services, owner, others)
    message = await send(services, owner, group)

    async def recall() -> None:
        await asyncio.sleep(0.005)
        await services.messaging.revoke(owner.principal, message)

    jobs = [gql.execute(ADD, {"m": str(message), "e": e}, token=a.access_token) for a in others for e in (THUMBS, HEART, PARTY)]
    results = await asyncio.gather(recall(), *jobs)
    codes = Counter(r.error_code for r in results[1:])
    assert set(codes) <= {None, "CONFLICT"}
    kinds = {e["pts"]: e["__typename"] for e in (await difference(gql, owner, group))["events"]}
    revoked_at = min(pts for pts, kind in kinds.items() if kind == "MessageRevokedEvent")
    reacted = [pts for pts, kind in kinds.items() if kind == "ReactionEvent"]
    # every reaction that was accepted is ordered before the recall; every later one was refused
    assert all(pts < revoked_at for pts in reacted)
    assert len(reacted) == codes[None]


async def test_the_native_door_answers_like_graphql(api, services: Services, gql: GraphQLClient) -> None:
    from app.context import RequestContext
    from app.errors import AppError

    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    ctx = RequestContext(services=services, transport="test", token=bob.access_token)
    native = await api.call("message/reaction/add", ctx, {"messageId": str(message), "emoji": HEART})
    assert native == {"changed": True, "pts": 2, "summary": {
        "messageId": str(message), "total": 1, "reactions": [{"emoji": HEART, "count": 1, "reactedByMe": True}]}}
    stats = await api.call("message/reaction/stats", ctx, {"messageIds": [str(message)]})
    via_graphql = (await gql.data(STATS, {"ids": [str(message)]}, token=bob.access_token))["messageReactionStats"]
    assert stats == via_graphql
    for args, code in (({"messageId": str(message), "emoji": "🦄"}, "BAD_USER_INPUT"),
                       ({"messageId": "987654321", "emoji": HEART}, "NOT_FOUND"),
                       ({"messageId": str(message)}, "BAD_USER_INPUT")):
        try:
            await api.call("message/reaction/add", ctx, args)
        except AppError as exc:
            assert exc.code.value == code, args
        else:
            raise AssertionError(f"accepted {args}")
