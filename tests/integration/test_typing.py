"""presence/typing: reaches the channel's other members live, is never stored or synced,
is refused where sending would be, and a flood is rate limited for its sender only."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from app.events import Listener
from app.runtime import Services
from schema.events import event_object
from schema.presence import TypingAction, TypingEvent
from tests.support import factories
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient, GraphQLResult
from tests.support.social import BLOCK, call, uid

TYPING = """mutation($c: ID!, $a: TypingAction) { presenceTyping(input: {channelId: $c, action: $a}) { expiresAt } }"""
DIFF = """query($c: ID!) { syncGetDifference(input: {channelId: $c, fromPts: 0, limit: 100}) { events { __typename } pts } }"""
MARK = {"type": "test_marker"}


async def typing(gql: GraphQLClient, who: Account, channel: int, action: str | None = None) -> GraphQLResult:
    variables: dict[str, Any] = {"c": str(channel)}
    if action is not None:
        variables["a"] = action
    return await gql.execute(TYPING, variables, token=who.access_token)


async def next_item(listener: Listener) -> dict[str, Any]:
    return await asyncio.wait_for(listener.get(), 5)


async def nothing_more(services: Services, listener: Listener) -> None:
    await services.hub.deliver([listener.principal.user_id], MARK)
    assert await next_item(listener) == MARK


async def test_typing_reaches_the_others_not_the_sender(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    ann_tablet = await factories.login(services, "ann", device_id="tablet")
    bob = await factories.account(services, "bob")
    bob_laptop = await factories.login(services, "bob", device_id="laptop")
    channel = await factories.direct_channel(services, ann, bob)
    async with (
        services.hub.listen(bob.principal) as bob_phone,
        services.hub.listen(bob_laptop.principal) as bob_pc,
        services.hub.listen(ann_tablet.principal) as ann_other,
    ):
        answer = (await typing(gql, ann, channel)).data["presenceTyping"]
        for stream in (bob_phone, bob_pc):
            item = await next_item(stream)
            assert item["type"] == "typing" and item["channelId"] == channel and item["userId"] == ann.user_id
            event = event_object(item)  # what the `events` subscription yields
            assert isinstance(event, TypingEvent) and event.action is TypingAction.TYPING
            assert event.expires_at == datetime.fromisoformat(answer["expiresAt"])
            assert 0 < item["expiresAt"] - item["at"] <= 10_000
        await nothing_more(services, ann_other)  # the sender's own devices are not told
        cancelled = await typing(gql, ann, channel, "CANCEL")
        item = await next_item(bob_phone)
        assert item["action"] == "cancel" and item["expiresAt"] == item["at"]
        assert cancelled.data["presenceTyping"]["expiresAt"] is not None
        await typing(gql, bob, channel, "RECORDING_AUDIO")
        assert (await next_item(ann_other))["action"] == "recording_audio"


async def test_typing_is_not_stored_and_not_in_sync(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    for action in ("TYPING", "UPLOADING_MEDIA", "CANCEL"):
        assert not (await typing(gql, ann, channel, action)).errors
    diff = (await gql.data(DIFF, {"c": str(channel)}, token=bob.access_token))["syncGetDifference"]
    assert diff == {"events": [], "pts": 0}
    await factories.send_text(services, ann, channel, "now a message")
    diff = (await gql.data(DIFF, {"c": str(channel)}, token=bob.access_token))["syncGetDifference"]
    assert diff == {"events": [{"__typename": "MessageEvent"}], "pts": 1}


async def test_typing_goes_to_every_other_group_member(services: Services, gql: GraphQLClient) -> None:
    ann, bob, cid = [await factories.account(services, n) for n in ("ann", "bob", "cid")]
    created = await services.groups.create(ann.principal, name="team", member_ids=[bob.user_id, cid.user_id])
    group = created.group.channel.id
    assert group is not None
    async with services.hub.listen(bob.principal) as bob_s, services.hub.listen(cid.principal) as cid_s:
        await typing(gql, ann, group)
        assert (await next_typing(bob_s))["userId"] == ann.user_id
        assert (await next_typing(cid_s))["userId"] == ann.user_id
        await services.groups.members.leave(cid.principal, group)
        await drain(services, cid_s)  # the leave's own events
        await typing(gql, ann, group)
        assert (await next_typing(bob_s))["userId"] == ann.user_id  # bob also hears of cid leaving first
        await nothing_more(services, cid_s)  # a member who left is no longer told


async def next_typing(listener: Listener) -> dict[str, Any]:
    """The next typing item (group changes are delivered on the same stream)."""
    while (item := await next_item(listener))["type"] != "typing":
        pass
    return item


async def drain(services: Services, listener: Listener) -> None:
    await services.hub.deliver([listener.principal.user_id], MARK)
    while await next_item(listener) != MARK:
        pass


async def test_typing_where_you_cannot_send_is_refused(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    eve = await factories.account(services, "eve")
    channel = await factories.direct_channel(services, ann, bob)
    assert (await typing(gql, eve, channel)).error_code == "NOT_FOUND"  # not a member
    assert (await typing(gql, ann, 987654)).error_code == "NOT_FOUND"
    for bad in ("0", "-1", "x", "9" * 40):
        r = await gql.execute(TYPING, {"c": bad}, token=ann.access_token)
        assert r.error_code == "BAD_USER_INPUT", bad
    r = await gql.execute(TYPING, {"c": str(channel), "a": "SHOUTING"}, token=ann.access_token)
    assert r.error_code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    assert (await gql.execute(TYPING, {"c": str(channel)})).error_code == "UNAUTHENTICATED"
    await call(gql, BLOCK, bob, u=uid(ann))
    async with services.hub.listen(bob.principal) as bob_stream:
        await drain(services, bob_stream)  # the block's own update
        assert (await typing(gql, ann, channel)).error_code == "FORBIDDEN"  # same as sending a message
        await nothing_more(services, bob_stream)


async def test_a_typing_flood_is_rate_limited_for_its_sender_only(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    async with services.hub.listen(bob.principal) as bob_stream:
        results = [await typing(gql, ann, channel) for _ in range(30)]
        codes = [r.error_code for r in results]
        assert codes[:10] == [None] * 10 and set(codes[10:]) == {"RATE_LIMITED"}
        delivered = 0
        await services.hub.deliver([bob.user_id], MARK)
        while (await next_item(bob_stream)) != MARK:
            delivered += 1
        assert delivered == 10  # refused signals go nowhere
        # bob is not affected by ann's flood, and ann can still send messages
        assert [(await typing(gql, bob, channel)).error_code for _ in range(5)] == [None] * 5
        await factories.send_text(services, ann, channel, "still here")
