"""sync/*: differences, channel pts, user updates, offline queues, and live delivery
with bounded queues and hold-until-ready."""

from __future__ import annotations

import asyncio
import contextlib

from app.events import Listener
from app.principal import Principal
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient

DIFF = """query($c: ID!, $f: Int!, $l: Int!) { syncGetDifference(input: {channelId: $c, fromPts: $f, limit: $l}) {
  events { __typename ... on MessageEvent { pts message { content { ... on TextContent { text } } } } ... on OtherChannelEvent { pts kind } }
  pts nextFromPts isFinal tooLong } }"""
BATCH = """query($s: Long!, $c: String, $l: Int!) { syncBatchGetChannelPts(input: {changedSince: $s, cursor: $c, limit: $l}) {
  channels { channelId pts readPts } nextCursor syncTime } }"""


async def pair(services: Services) -> tuple[factories.Account, factories.Account, int]:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    return ann, bob, await factories.direct_channel(services, ann, bob)


async def test_difference_pages_through_events_in_pts_order(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    for i in range(1, 8):
        await factories.send_text(services, ann, channel, f"m{i}")
    seen, from_pts = [], 0
    while True:
        d = (await gql.data(DIFF, {"c": str(channel), "f": from_pts, "l": 3}, token=bob.access_token))["syncGetDifference"]
        seen += [e["pts"] for e in d["events"]]
        assert d["pts"] == 7
        from_pts = d["nextFromPts"]
        if d["isFinal"]:
            break
    assert seen == list(range(1, 8))
    d = (await gql.data(DIFF, {"c": str(channel), "f": 7, "l": 3}, token=bob.access_token))["syncGetDifference"]
    assert d["events"] == [] and d["isFinal"] and d["nextFromPts"] == 7


async def test_difference_rejects_bad_positions(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    await factories.send_text(services, ann, channel, "one")
    for f, limit in ((-1, 10), (2, 10), (0, 0), (0, 501), (2**31 - 1, 10)):
        r = await gql.execute(DIFF, {"c": str(channel), "f": f, "l": limit}, token=bob.access_token)
        assert r.error_code == "BAD_USER_INPUT", (f, limit)
    eve = await factories.account(services, "eve")
    assert (await gql.execute(DIFF, {"c": str(channel), "f": 0, "l": 5}, token=eve.access_token)).error_code == "NOT_FOUND"


async def test_a_huge_gap_says_too_long(settings_factory, services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    services.settings.messaging.max_difference = 10
    for i in range(12):
        await factories.send_text(services, ann, channel, f"m{i}")
    d = (await gql.data(DIFF, {"c": str(channel), "f": 0, "l": 100}, token=bob.access_token))["syncGetDifference"]
    assert d["tooLong"] and d["events"] == [] and d["pts"] == 12
    d = (await gql.data(DIFF, {"c": str(channel), "f": 5, "l": 100}, token=bob.access_token))["syncGetDifference"]
    assert not d["tooLong"] and [e["pts"] for e in d["events"]] == list(range(6, 13))


async def test_batch_channel_pts_pages_and_reports_only_changes(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    pals = [await factories.account(services, f"pal{i}") for i in range(5)]
    channels = [await factories.direct_channel(services, ann, p) for p in pals]
    for p, c in zip(pals, channels, strict=True):
        await factories.send_text(services, p, c, "hello")
    got, cursor = [], None
    while True:
        page = (await gql.data(BATCH, {"s": 0, "c": cursor, "l": 2}, token=ann.access_token))["syncBatchGetChannelPts"]
        got += page["channels"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(int(c["channelId"]) for c in got) == sorted(channels)
    assert all(c["pts"] == 1 for c in got)
    # a far-future changedSince returns nothing
    future = (await gql.data(BATCH, {"s": page["syncTime"] + 10**9, "c": None, "l": 10}, token=ann.access_token))
    assert future["syncBatchGetChannelPts"]["channels"] == []
    for bad in ({"s": -1, "l": 10}, {"s": 0, "l": 0}, {"s": 0, "l": 5000}, {"s": 0, "l": 5, "c": "!!"}):
        assert (await gql.execute(BATCH, {"c": None, **bad}, token=ann.access_token)).error_code == "BAD_USER_INPUT"


async def test_get_updates_pages_by_seq(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    for i in range(3):
        await factories.direct_channel(services, ann, await factories.account(services, f"peer{i}"))
    q = "query($s: Int!, $l: Int!) { syncGetUpdates(input: {since: $s, limit: $l}) { updates { __typename ... on ChannelAddedEvent { seq channelId } } seq hasMore } }"
    first = (await gql.data(q, {"s": 0, "l": 2}, token=ann.access_token))["syncGetUpdates"]
    assert [u["seq"] for u in first["updates"]] == [1, 2] and first["hasMore"] and first["seq"] == 3
    rest = (await gql.data(q, {"s": 2, "l": 2}, token=ann.access_token))["syncGetUpdates"]
    assert [u["seq"] for u in rest["updates"]] == [3] and not rest["hasMore"]
    for s, limit in ((-1, 5), (4, 5), (0, 0), (0, 501)):
        assert (await gql.execute(q, {"s": s, "l": limit}, token=ann.access_token)).error_code == "BAD_USER_INPUT"


async def test_submit_replays_an_offline_queue_through_send(services: Services, gql: GraphQLClient) -> None:
    ann, _bob, channel = await pair(services)
    q = """mutation($items: [SyncSubmitItem!]!) { syncSubmit(input: {items: $items}) {
             results { index ok errorCode message { pts clientMsgId } } } }"""
    items = [
        {"messageSend": {"channelId": str(channel), "clientMsgId": "q1", "content": {"text": {"text": "one"}}}},
        {"messageSend": {"channelId": "99999", "clientMsgId": "q2", "content": {"text": {"text": "lost"}}}},
        {"messageSend": {"channelId": str(channel), "clientMsgId": "q3", "content": {"text": {"text": "three"}}}},
        {"messageSend": {"channelId": str(channel), "clientMsgId": "q1", "content": {"text": {"text": "dup"}}}},
    ]
    results = (await gql.data(q, {"items": items}, token=ann.access_token))["syncSubmit"]["results"]
    assert [(r["ok"], r["errorCode"]) for r in results] == [(True, None), (False, "NOT_FOUND"), (True, None), (True, None)]
    assert [r["message"]["pts"] for r in results if r["ok"]] == [1, 2, 1]
    assert (await gql.execute(q, {"items": []}, token=ann.access_token)).error_code == "BAD_USER_INPUT"
    assert (await gql.execute(q, {"items": [{}]}, token=ann.access_token)).error_code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")


async def test_live_events_reach_every_device_of_every_member(services: Services) -> None:
    ann, bob, channel = await pair(services)
    ann_tablet = await factories.login(services, "ann", device_id="tablet")
    streams = {}
    for acct in (ann, ann_tablet, bob):
        streams[acct.device_id + acct.username] = services.hub.stream(acct.principal)
    tasks = {k: asyncio.create_task(s.__anext__()) for k, s in streams.items()}
    await asyncio.sleep(0.05)
    await factories.send_text(services, ann, channel, "to all")
    messages = await asyncio.wait_for(asyncio.gather(*tasks.values()), 5)
    assert all(m["type"] == "channel_event" and m["pts"] == 1 and m["message"]["content"] == {"text": "to all"} for m in messages)
    for s in streams.values():
        await s.aclose()


def test_a_slow_listener_is_told_to_resync_instead_of_growing() -> None:
    counted: list[int] = []  # the hub counts overflows in privchat_live_overflows_total
    listener = Listener(Principal(1, 1, "d"), maxsize=3, on_overflow=lambda: counted.append(1))
    for pts in range(1, 10):
        listener.offer({"type": "channel_event", "pts": pts})
    assert listener.pending() == 1 and listener.overflows == 1 and counted == [1]
    listener.offer({"type": "channel_event", "pts": 10})  # the coming resync covers it
    assert listener.pending() == 1
    assert listener.get_nowait()["type"] == "resync_required"
    listener.offer({"type": "channel_event", "pts": 11})  # once the marker is taken, live again
    assert listener.get_nowait()["pts"] == 11


def test_held_events_wait_for_session_ready_and_overflow_into_resync() -> None:
    listener = Listener(Principal(1, 1, "d"), maxsize=5, hold=True)
    for pts in (1, 2):
        listener.offer({"type": "channel_event", "pts": pts})
    assert listener.pending() == 0
    listener.release()
    assert [listener.get_nowait()["pts"] for _ in range(2)] == [1, 2]
    held = Listener(Principal(1, 1, "d"), maxsize=2, hold=True)
    for pts in range(1, 6):
        held.offer({"type": "channel_event", "pts": pts})
    held.release()
    assert held.get_nowait()["type"] == "resync_required" and held.pending() == 0


async def test_session_ready_releases_only_that_devices_hold(services: Services, gql: GraphQLClient) -> None:
    ann, bob, channel = await pair(services)
    held_stream = services.hub.stream(bob.principal, hold=True)
    first = asyncio.create_task(held_stream.__anext__())
    await asyncio.sleep(0.05)
    await factories.send_text(services, ann, channel, "while syncing")
    await asyncio.sleep(0.2)
    assert not first.done()  # held during the device's sync
    ready = await gql.data("mutation { syncSessionReady { ok seq } }", token=bob.access_token)
    assert ready["syncSessionReady"]["ok"]
    message = await asyncio.wait_for(first, 5)
    assert message["pts"] == 1
    await held_stream.aclose()


async def test_a_ready_that_overtakes_the_held_streams_setup_does_not_hold_it_forever(
    services: Services, gql: GraphQLClient
) -> None:
    # A browser sends the subscription on its socket and its sync over HTTP: the sync and
    # even syncSessionReady can reach the server before the subscription is registered.
    ann, bob, channel = await pair(services)
    ready = await gql.data("mutation { syncSessionReady { ok seq } }", token=bob.access_token)
    assert ready["syncSessionReady"]["ok"]
    late_stream = services.hub.stream(bob.principal, hold=True)
    first = asyncio.create_task(late_stream.__anext__())
    await asyncio.sleep(0.05)
    await factories.send_text(services, ann, channel, "after the early ready")
    message = await asyncio.wait_for(first, 5)
    assert message["pts"] == 1
    await late_stream.aclose()
    # The early ready was used up: the next held stream of that session holds again.
    next_stream = services.hub.stream(bob.principal, hold=True)
    second = asyncio.create_task(next_stream.__anext__())
    await asyncio.sleep(0.05)
    await factories.send_text(services, ann, channel, "held again")
    await asyncio.sleep(0.2)
    assert not second.done()
    second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second
    await next_stream.aclose()
