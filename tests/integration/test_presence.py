"""presence/query|batch_query|subscribe|unsubscribe|stats: online while any device holds a
live stream, last seen stored, transitions pushed to subscribers, privacy honoured.

A device "connects" by opening an EventHub listener, exactly what the GraphQL `events`
subscription and the native gateway do (tests/e2e/test_presence_e2e.py does it over
real WebSockets and across processes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from app import runtime
from app.db.types import now_ms
from app.events import Listener
from app.runtime import Services
from schema.events import event_object
from schema.presence import PresenceEvent
from tests.support import factories
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient
from tests.support.social import BLOCK, befriend, call, set_privacy, uid

FIELDS = "userId status lastSeenAt deviceCount"
QUERY = f"query($u: ID!) {{ presenceQuery(input: {{userId: $u}}) {{ presence {{ {FIELDS} }} }} }}"
BATCH = f"query($u: [ID!]!) {{ presenceBatchQuery(input: {{userIds: $u}}) {{ presences {{ {FIELDS} }} }} }}"
SUBSCRIBE = f"""mutation($u: [ID!]!) {{ presenceSubscribe(input: {{userIds: $u}}) {{
  presences {{ {FIELDS} }} subscriptions }} }}"""
UNSUBSCRIBE = "mutation($u: [ID!]) { presenceUnsubscribe(input: {userIds: $u}) { subscriptions } }"
STATS = """query { presenceStats { myDevicesOnline subscriptions subscriptionLimit
  onlineUsers onlineDevices localConnections backend } }"""
MARK = {"type": "test_marker"}


@contextlib.asynccontextmanager
async def online(services: Services, account: Account) -> AsyncIterator[Listener]:
    """A device of `account` holding a live stream for the duration."""
    async with services.hub.listen(account.principal) as listener:
        yield listener


async def presence(gql: GraphQLClient, viewer: Account, target: Account) -> dict[str, Any]:
    data = await gql.data(QUERY, {"u": uid(target)}, token=viewer.access_token)
    return data["presenceQuery"]["presence"]


async def next_item(listener: Listener) -> dict[str, Any]:
    """The next presence event (other live items, e.g. friend updates, are skipped)."""
    while (item := await asyncio.wait_for(listener.get(), 5))["type"] != "presence":
        pass
    return item


async def nothing_more(services: Services, listener: Listener) -> None:
    """No presence event is queued before a marker sent now (the bus keeps order)."""
    await services.hub.deliver([listener.principal.user_id], MARK)
    while (item := await asyncio.wait_for(listener.get(), 5)) != MARK:
        assert item["type"] != "presence", item


async def test_online_while_any_device_is_connected_then_last_seen(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    tablet = await factories.login(services, "ann", device_id="tablet")
    bob = await factories.account(services, "bob")
    never = await presence(gql, bob, ann)
    assert never == {"userId": uid(ann), "status": "OFFLINE", "lastSeenAt": None, "deviceCount": None}
    async with online(services, ann):
        assert (await presence(gql, bob, ann))["status"] == "ONLINE"
        async with online(services, tablet):
            mine = await presence(gql, ann, ann)
            assert mine["status"] == "ONLINE" and mine["deviceCount"] == 2
            assert (await presence(gql, bob, ann))["deviceCount"] is None  # only for yourself
        # the phone alone still keeps ann online
        assert (await presence(gql, bob, ann))["status"] == "ONLINE"
        assert (await presence(gql, ann, ann))["deviceCount"] == 1
        left = now_ms()
    gone = await presence(gql, bob, ann)
    assert gone["status"] == "OFFLINE" and left <= _epoch(gone["lastSeenAt"]) * 1000 <= now_ms()
    # two connections of one device count as one device
    async with online(services, ann), online(services, ann):
        assert (await presence(gql, ann, ann))["deviceCount"] == 1


async def test_last_seen_survives_a_restart(settings: Any, services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    async with online(services, ann):
        pass
    seen = (await presence(gql, bob, ann))["lastSeenAt"]
    assert seen is not None
    again = runtime.build_services(settings)
    await runtime.start(again)
    try:
        [after] = await again.presence.query(bob.principal, [ann.user_id])
    finally:
        await runtime.stop(again)
    assert after.status.value == "offline"
    assert after.last_seen_at is not None and abs(after.last_seen_at / 1000 - _epoch(seen)) < 1


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


async def test_batch_query_keeps_order_and_hides_unknown_users(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    async with online(services, bob):
        data = await gql.data(BATCH, {"u": [uid(bob), "999999", uid(ann), uid(bob)]}, token=ann.access_token)
    rows = data["presenceBatchQuery"]["presences"]
    assert [(r["userId"], r["status"]) for r in rows] == [
        (uid(bob), "ONLINE"),
        ("999999", "HIDDEN"),
        (uid(ann), "OFFLINE"),
    ]


async def test_subscribers_hear_online_and_offline_once(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    tablet = await factories.login(services, "ann", device_id="tablet")
    bob = await factories.account(services, "bob")
    eve = await factories.account(services, "eve")
    answer = (await call(gql, SUBSCRIBE, bob, u=[uid(ann)])).data["presenceSubscribe"]
    assert answer["subscriptions"] == 1 and answer["presences"][0]["status"] == "OFFLINE"
    async with online(services, bob) as bob_stream, online(services, eve) as eve_stream:
        async with online(services, ann):
            event = await next_item(bob_stream)
            assert event["type"] == "presence" and event["userId"] == ann.user_id and event["status"] == "online"
            async with online(services, tablet):
                pass  # a second device coming and going is no transition
            await nothing_more(services, bob_stream)
        event = await next_item(bob_stream)
        assert event["status"] == "offline" and event["lastSeenAt"] is not None
        item = event_object(event)  # what `events` yields
        assert isinstance(item, PresenceEvent) and item.status.name == "OFFLINE" and item.user_id == uid(ann)
        await nothing_more(services, bob_stream)
        await nothing_more(services, eve_stream)  # eve did not subscribe


async def test_unsubscribe_stops_the_events(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    cid = await factories.account(services, "cid")
    bob = await factories.account(services, "bob")
    assert (await call(gql, SUBSCRIBE, bob, u=[uid(ann), uid(cid), uid(bob)])).data["presenceSubscribe"][
        "subscriptions"
    ] == 2  # watching yourself is ignored
    assert (await call(gql, UNSUBSCRIBE, bob, u=[uid(ann)])).data["presenceUnsubscribe"]["subscriptions"] == 1
    async with online(services, bob) as stream:
        async with online(services, ann):
            pass
        await nothing_more(services, stream)
        async with online(services, cid):
            assert (await next_item(stream))["userId"] == cid.user_id
        assert (await next_item(stream))["status"] == "offline"
        assert (await call(gql, UNSUBSCRIBE, bob, u=None)).data["presenceUnsubscribe"]["subscriptions"] == 0
        async with online(services, cid):
            pass
        await nothing_more(services, stream)


async def test_a_watchers_subscriptions_end_with_their_last_connection(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await call(gql, SUBSCRIBE, bob, u=[uid(ann)])
    async with online(services, bob):
        stats = (await gql.data(STATS, token=bob.access_token))["presenceStats"]
        assert stats["subscriptions"] == 1 and stats["myDevicesOnline"] == 1
    stats = (await gql.data(STATS, token=bob.access_token))["presenceStats"]
    assert stats["subscriptions"] == 0 and stats["myDevicesOnline"] == 0
    assert stats["onlineUsers"] is None and stats["backend"] is None  # cluster figures are for admins


async def test_admins_see_cluster_counts(services: Services, gql: GraphQLClient) -> None:
    await services.accounts.create_admin(username="boss", password=factories.PASSWORD)
    boss = await factories.login(services, "boss")
    ann = await factories.account(services, "ann")
    tablet = await factories.login(services, "ann", device_id="tablet")
    async with online(services, ann), online(services, tablet), online(services, ann):
        stats = (await gql.data(STATS, token=boss.access_token))["presenceStats"]
    assert stats["onlineUsers"] == 1 and stats["onlineDevices"] == 2 and stats["localConnections"] == 3
    assert stats["backend"] == services.presence.state.backend
    assert stats["subscriptionLimit"] == 1000


async def test_privacy_hides_status_and_events(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    friend = await factories.account(services, "friend")
    stranger = await factories.account(services, "stranger")
    await befriend(gql, friend, ann)
    await set_privacy(gql, ann, showOnline="FRIENDS")
    for watcher in (friend, stranger):
        await call(gql, SUBSCRIBE, watcher, u=[uid(ann)])
    async with online(services, friend) as friend_stream, online(services, stranger) as stranger_stream:
        async with online(services, ann):
            assert (await presence(gql, friend, ann))["status"] == "ONLINE"
            assert await presence(gql, stranger, ann) == {
                "userId": uid(ann),
                "status": "HIDDEN",
                "lastSeenAt": None,
                "deviceCount": None,
            }
            assert (await presence(gql, ann, ann))["status"] == "ONLINE"  # always visible to yourself
            assert (await next_item(friend_stream))["status"] == "online"
        assert (await next_item(friend_stream))["status"] == "offline"
        assert (await presence(gql, stranger, ann))["lastSeenAt"] is None  # last seen hidden too
        await nothing_more(services, stranger_stream)
        await set_privacy(gql, ann, showOnline="NOBODY")
        async with online(services, ann):
            assert (await presence(gql, friend, ann))["status"] == "HIDDEN"
        await nothing_more(services, friend_stream)


async def test_a_user_who_blocked_you_appears_hidden(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    eve = await factories.account(services, "eve")
    await call(gql, SUBSCRIBE, bob, u=[uid(ann)])
    await call(gql, BLOCK, ann, u=uid(bob))
    async with online(services, bob) as stream, online(services, ann):
        assert (await presence(gql, bob, ann))["status"] == "HIDDEN"
        assert (await presence(gql, eve, ann))["status"] == "ONLINE"
        await nothing_more(services, stream)


async def test_bad_presence_input(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    for ids in ([], ["0"], ["-3"], ["abc"], [str(i) for i in range(1, 202)], ["9" * 30]):
        assert (await call(gql, BATCH, ann, u=ids)).error_code == "BAD_USER_INPUT", ids
        assert (await call(gql, SUBSCRIBE, ann, u=ids)).error_code == "BAD_USER_INPUT", ids
    assert (await call(gql, UNSUBSCRIBE, ann, u=[])).error_code == "BAD_USER_INPUT"
    assert (await gql.execute(QUERY, {"u": uid(ann)})).error_code == "UNAUTHENTICATED"
    assert (await gql.execute(STATS)).error_code == "UNAUTHENTICATED"


async def test_subscriptions_are_bounded(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    for start in range(1000, 2000, 200):
        r = await call(gql, SUBSCRIBE, ann, u=[str(i) for i in range(start, start + 200)])
        assert r.data["presenceSubscribe"]["subscriptions"] == start - 1000 + 200
    # renewing existing ones is fine; one more is refused and changes nothing
    assert (await call(gql, SUBSCRIBE, ann, u=["1000", "1999"])).data["presenceSubscribe"]["subscriptions"] == 1000
    assert (await call(gql, SUBSCRIBE, ann, u=["5000"])).error_code == "BAD_USER_INPUT"
    assert (await gql.data(STATS, token=ann.access_token))["presenceStats"]["subscriptions"] == 1000
