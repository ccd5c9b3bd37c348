"""message/pin and message/pin/list through GraphQL: who may pin, the per-channel limit,
pin events with pts, live and offline delivery."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

from app.messaging.content import MessageType
from app.messaging.service import SendRequest
from app.runtime import Services
from schema.events import event_object
from tests.support import factories
from tests.support.graphql import GraphQLClient

PIN = """mutation($m: ID!, $p: Boolean!) { messagePin(input: {messageId: $m, pinned: $p}) { channelId messageId pinned pts } }"""
LIST = """query($c: ID!) { messagePinList(input: {channelId: $c}) {
  pins { message { id senderId revoked content { ... on TextContent { text } } } pinnedBy pinnedAt } limit } }"""
DIFF = """query($c: ID!, $f: Int!) { syncGetDifference(input: {channelId: $c, fromPts: $f, limit: 500}) {
  events { __typename ... on PinEvent { channelId pts messageId pinned actorId } ... on MessageEvent { pts } } pts } }"""
_ids = itertools.count(1)


async def send(services: Services, sender: factories.Account, channel_id: int, text: str = "hi") -> int:
    message = await services.messaging.send(
        sender.principal,
        SendRequest(channel_id=channel_id, client_msg_id=f"p-{next(_ids)}", type=MessageType.TEXT, content={"text": text}),
    )
    assert message.id is not None
    return message.id


async def pin(gql: GraphQLClient, acct: factories.Account, message_id: int, pinned: bool = True) -> dict:
    return (await gql.data(PIN, {"m": str(message_id), "p": pinned}, token=acct.access_token))["messagePin"]


async def pin_error(gql: GraphQLClient, acct: factories.Account, message_id: int | str, pinned: bool = True) -> str | None:
    return (await gql.execute(PIN, {"m": str(message_id), "p": pinned}, token=acct.access_token)).error_code


async def pinned(gql: GraphQLClient, acct: factories.Account, channel: int) -> list[str]:
    data = await gql.data(LIST, {"c": str(channel)}, token=acct.access_token)
    return [p["message"]["id"] for p in data["messagePinList"]["pins"]]


async def pair(services: Services) -> tuple[factories.Account, factories.Account, int]:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    return ann, bob, await factories.direct_channel(services, ann, bob)


async def group(services: Services) -> tuple[factories.Account, factories.Account, factories.Account, int]:
    owner = await factories.account(services, "founder")
    admin = await factories.account(services, "moderator")
    member = await factories.account(services, "member")
    return owner, admin, member, await factories.group_channel(services, owner, [admin, member], admins=[admin])


async def test_either_party_pins_in_a_direct_chat(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    from_bob, from_ann = await send(services, bob, channel, "bob's"), await send(services, ann, channel, "ann's")
    assert await pin(gql, ann, from_bob) == {"channelId": str(channel), "messageId": str(from_bob), "pinned": True, "pts": 3}
    assert (await pin(gql, bob, from_ann))["pts"] == 4
    listed = (await gql.data(LIST, {"c": str(channel)}, token=bob.access_token))["messagePinList"]
    assert listed["limit"] == 20
    assert [(p["message"]["content"]["text"], p["pinnedBy"]) for p in listed["pins"]] == [
        ("ann's", str(bob.user_id)), ("bob's", str(ann.user_id))]  # most recently pinned first
    events = (await gql.data(DIFF, {"c": str(channel), "f": 2}, token=ann.access_token))["syncGetDifference"]["events"]
    assert events == [
        {"__typename": "PinEvent", "channelId": str(channel), "pts": 3, "messageId": str(from_bob), "pinned": True,
         "actorId": str(ann.user_id)},
        {"__typename": "PinEvent", "channelId": str(channel), "pts": 4, "messageId": str(from_ann), "pinned": True,
         "actorId": str(bob.user_id)},
    ]


async def test_unpinning_is_an_event_and_drops_the_message_from_the_list(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    await pin(gql, ann, message)
    assert await pin(gql, bob, message, False) == {"channelId": str(channel), "messageId": str(message), "pinned": False, "pts": 3}
    assert await pinned(gql, ann, channel) == []
    events = (await gql.data(DIFF, {"c": str(channel), "f": 1}, token=ann.access_token))["syncGetDifference"]["events"]
    assert [(e["pts"], e["pinned"]) for e in events] == [(2, True), (3, False)]


async def test_pinning_twice_or_unpinning_what_is_not_pinned_is_a_conflict(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    assert await pin_error(gql, ann, message, False) == "CONFLICT"
    await pin(gql, ann, message)
    assert await pin_error(gql, bob, message) == "CONFLICT"
    await pin(gql, ann, message, False)
    assert await pin_error(gql, ann, message, False) == "CONFLICT"
    # the refusals stored nothing: message, pin, unpin
    assert (await gql.data(DIFF, {"c": str(channel), "f": 0}, token=ann.access_token))["syncGetDifference"]["pts"] == 3


async def test_only_the_owner_and_admins_pin_in_a_group(services: Services, gql: GraphQLClient) -> None:
    owner, admin, member, channel = await group(services)
    first, second = await send(services, member, channel, "one"), await send(services, member, channel, "two")
    assert await pin_error(gql, member, first) == "FORBIDDEN"
    await pin(gql, admin, first)
    await pin(gql, owner, second)
    assert await pin_error(gql, member, first, False) == "FORBIDDEN"
    assert await pinned(gql, member, channel) == [str(second), str(first)]  # every member sees the pins
    await pin(gql, admin, second, False)
    assert await pinned(gql, member, channel) == [str(first)]


async def test_pinning_beyond_the_limit_is_refused(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    services.settings.messaging.max_pins_per_channel = 3
    messages = [await send(services, ann, channel, f"m{i}") for i in range(5)]
    for m in messages[:3]:
        await pin(gql, bob, m)
    refused = await gql.execute(PIN, {"m": str(messages[3]), "p": True}, token=ann.access_token)
    assert refused.error_code == "CONFLICT" and refused.errors[0]["extensions"]["limit"] == 3
    await pin(gql, ann, messages[0], False)  # room again
    await pin(gql, ann, messages[3])
    assert await pin_error(gql, ann, messages[4]) == "CONFLICT"
    assert sorted(await pinned(gql, ann, channel)) == sorted(str(m) for m in messages[1:4])
    assert (await gql.data(LIST, {"c": str(channel)}, token=ann.access_token))["messagePinList"]["limit"] == 3


async def test_concurrent_pins_never_exceed_the_limit(services: Services, gql: GraphQLClient) -> None:
    owner, admin, _member, channel = await group(services)
    services.settings.messaging.max_pins_per_channel = 3
    messages = [await send(services, owner, channel, f"m{i}") for i in range(10)]
    results = await asyncio.gather(*[
        gql.execute(PIN, {"m": str(m), "p": True}, token=(owner if i % 2 else admin).access_token)
        for i, m in enumerate(messages)])
    assert Counter(r.error_code for r in results) == {None: 3, "CONFLICT": 7}
    assert len(await pinned(gql, owner, channel)) == 3
    diff = (await gql.data(DIFF, {"c": str(channel), "f": 10}, token=owner.access_token))["syncGetDifference"]
    assert [e["pts"] for e in diff["events"]] == [11, 12, 13] and diff["pts"] == 13


async def test_unknown_and_foreign_messages_are_not_found_alike(services: Services, gql: GraphQLClient) -> None:
    ann, _bob, channel = await pair(services)
    message = await send(services, ann, channel)
    eve = await factories.account(services, "eve")
    messages = set()
    for target in (message, 987654321):
        for pinned_ in (True, False):
            result = await gql.execute(PIN, {"m": str(target), "p": pinned_}, token=eve.access_token)
            assert result.error_code == "NOT_FOUND"
            messages.add(result.errors[0]["message"])
    assert len(messages) == 1
    for target in (channel, 987654321):
        assert (await gql.execute(LIST, {"c": str(target)}, token=eve.access_token)).error_code == "NOT_FOUND"
    assert await pin_error(gql, ann, "not-an-id") == "BAD_USER_INPUT"


async def test_a_recalled_message_cannot_be_pinned_and_leaves_the_list(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    services.settings.messaging.max_pins_per_channel = 1
    kept, recalled = await send(services, ann, channel, "kept"), await send(services, ann, channel, "recalled")
    await pin(gql, bob, recalled)
    await services.messaging.revoke(ann.principal, recalled)
    assert await pinned(gql, bob, channel) == []  # its content is gone: so is its pin
    await pin(gql, bob, kept)  # and it no longer counts against the limit
    assert await pinned(gql, ann, channel) == [str(kept)]
    await pin(gql, ann, recalled, False)  # the leftover pin can still be removed
    await pin(gql, ann, kept, False)
    assert await pin_error(gql, ann, recalled) == "CONFLICT"


async def test_a_newcomer_sees_no_pins_of_messages_from_before_they_joined(
    services: Services, gql: GraphQLClient
) -> None:
    owner, admin, _member, channel = await group(services)
    early = await send(services, owner, channel, "early")
    await pin(gql, owner, early)
    late_admin = await factories.account(services, "newadmin")
    await _join(services, channel, late_admin, role="admin", visible_from_pts=2)
    later = await send(services, owner, channel, "later")
    await pin(gql, admin, later)
    assert await pinned(gql, late_admin, channel) == [str(later)]
    assert await pinned(gql, owner, channel) == [str(later), str(early)]
    assert await pin_error(gql, late_admin, early, False) == "NOT_FOUND"


async def _join(services: Services, channel_id: int, acct: factories.Account, *, role: str, visible_from_pts: int) -> None:
    from app.channels import store as channel_store
    from app.channels.tables import ChannelMember
    from app.db.types import now_ms

    async with services.db.transaction() as tx:
        await channel_store.add_member(tx.session, ChannelMember(
            channel_id=channel_id, user_id=acct.user_id, role=role, joined_at=now_ms(), visible_from_pts=visible_from_pts))


async def test_a_pin_reaches_other_devices_live_and_offline_ones_through_sync(
    services: Services, gql: GraphQLClient
) -> None:
    ann, bob, channel = await pair(services)
    message = await send(services, bob, channel)
    ann_laptop = await factories.login(services, "ann", device_id="laptop")  # offline meanwhile
    streams = [services.hub.stream(p) for p in (ann.principal, bob.principal)]
    pending = [asyncio.create_task(s.__anext__()) for s in streams]
    await asyncio.sleep(0.05)
    await pin(gql, ann, message)
    for item in await asyncio.wait_for(asyncio.gather(*pending), 5):
        event = event_object(item)
        assert type(event).__name__ == "PinEvent"
        assert (event.pts, event.message_id, event.pinned, event.actor_id) == (2, str(message), True, str(ann.user_id))
    for s in streams:
        await s.aclose()
    diff = (await gql.data(DIFF, {"c": str(channel), "f": 1}, token=ann_laptop.access_token))["syncGetDifference"]
    assert diff["events"] == [{"__typename": "PinEvent", "channelId": str(channel), "pts": 2, "messageId": str(message),
                               "pinned": True, "actorId": str(ann.user_id)}]


async def test_the_native_door_answers_like_graphql(api, services: Services, gql: GraphQLClient) -> None:
    from app.context import RequestContext

    ann, bob, channel = await pair(services)
    message = await send(services, ann, channel)
    ctx = RequestContext(services=services, transport="test", token=bob.access_token)
    assert await api.call("message/pin", ctx, {"messageId": str(message)}) == {
        "channelId": str(channel), "messageId": str(message), "pinned": True, "pts": 2}
    native = await api.call("message/pin/list", ctx, {"channelId": str(channel)})
    assert [p["message"]["id"] for p in native["pins"]] == await pinned(gql, bob, channel) == [str(message)]
    assert native["pins"][0]["pinnedBy"] == str(bob.user_id) and native["limit"] == 20


async def test_roles_of_a_group_made_by_the_groups_service_apply(services: Services, gql: GraphQLClient) -> None:
    ann, bob, _channel = await pair(services)
    created = await gql.data("mutation($m: [ID!]!) { groupGroupCreate(input: {name: \"pins\", memberIds: $m}) { group { id } } }",
                             {"m": [str(ann.user_id)]}, token=bob.access_token)
    group = int(created["groupGroupCreate"]["group"]["id"])
    message = await send(services, ann, group, "pin me")
    assert await pin_error(gql, ann, message) == "FORBIDDEN"  # a plain member
    await pin(gql, bob, message)  # the owner
    assert await pinned(gql, ann, group) == [str(message)]
