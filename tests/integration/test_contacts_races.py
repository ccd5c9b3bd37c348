"""Concurrent social operations never leave a half friendship or a double notification.

The operations really run at the same time (asyncio.gather over GraphQL); on PostgreSQL
they are separate transactions on separate connections racing for the same rows."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, or_, select
from sqlmodel import col

from app.contacts.tables import FriendRequest, Friendship
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient
from tests.support.social import ACCEPT, RECALL, REMOVE, apply, befriend, call, friend_ids, social_updates, uid


async def friendship_rows(services: Services, a: int, b: int) -> int:
    async with services.db.read() as session:
        stmt = (
            select(func.count())
            .select_from(Friendship)
            .where(
                or_(
                    (col(Friendship.user_id) == a) & (col(Friendship.friend_id) == b),
                    (col(Friendship.user_id) == b) & (col(Friendship.friend_id) == a),
                )
            )
        )
        return int((await session.execute(stmt)).scalar_one())


async def request_statuses(services: Services, a: int, b: int) -> list[str]:
    async with services.db.read() as session:
        stmt = select(col(FriendRequest.status)).where(
            or_(
                (col(FriendRequest.from_user_id) == a) & (col(FriendRequest.to_user_id) == b),
                (col(FriendRequest.from_user_id) == b) & (col(FriendRequest.to_user_id) == a),
            )
        )
        return list((await session.execute(stmt)).scalars())


def kinds(updates: list[dict]) -> list[str]:
    return [u["__typename"] for u in updates]


async def test_accept_racing_recall_from_two_devices_has_one_winner(services: Services, gql: GraphQLClient) -> None:
    outcomes = set()
    for round_ in range(6):
        await factories.register(services, f"ann{round_}")
        ann_phone = await factories.login(services, f"ann{round_}", device_id="phone")
        await factories.register(services, f"bob{round_}")
        bob_phone = await factories.login(services, f"bob{round_}", device_id="phone")
        bob_laptop = await factories.login(services, f"bob{round_}", device_id="laptop")
        await apply(gql, ann_phone, bob_phone)
        # bob accepts on his laptop while ann recalls on her phone, at the same time
        accept, recall = await asyncio.gather(
            call(gql, ACCEPT, bob_laptop, u=uid(ann_phone)), call(gql, RECALL, ann_phone, u=uid(bob_phone))
        )
        codes = (accept.error_code, recall.error_code)
        assert codes in ((None, "CONFLICT"), ("CONFLICT", None)), (round_, accept.errors, recall.errors)
        rows = await friendship_rows(services, ann_phone.user_id, bob_phone.user_id)
        statuses = await request_statuses(services, ann_phone.user_id, bob_phone.user_id)
        if accept.error_code is None:
            outcomes.add("accepted")
            assert rows == 2 and statuses == ["accepted"]
            assert await friend_ids(gql, ann_phone) == [uid(bob_phone)]
            assert await friend_ids(gql, bob_phone) == [uid(ann_phone)]
            assert kinds(await social_updates(gql, ann_phone)) == ["FriendRequestAcceptedEvent", "FriendAddedEvent"]
            assert kinds(await social_updates(gql, bob_laptop)) == ["FriendRequestReceivedEvent", "FriendAddedEvent"]
        else:
            outcomes.add("recalled")
            assert rows == 0 and statuses == ["recalled"]
            assert await friend_ids(gql, ann_phone) == [] and await friend_ids(gql, bob_phone) == []
            assert kinds(await social_updates(gql, ann_phone)) == []
            assert kinds(await social_updates(gql, bob_laptop)) == [
                "FriendRequestReceivedEvent",
                "FriendRequestRecalledEvent",
            ]
    assert outcomes  # every round ended in exactly one consistent state


async def test_crossing_requests_at_the_same_moment_make_one_friendship(services: Services, gql: GraphQLClient) -> None:
    for round_ in range(5):
        ann = await factories.account(services, f"xann{round_}")
        bob = await factories.account(services, f"xbob{round_}")
        first, second = await asyncio.gather(apply(gql, ann, bob), apply(gql, bob, ann))
        outcomes = sorted([first.data["contactFriendApply"]["outcome"], second.data["contactFriendApply"]["outcome"]])
        assert outcomes == ["FRIENDS", "PENDING"]
        assert await friendship_rows(services, ann.user_id, bob.user_id) == 2
        assert await request_statuses(services, ann.user_id, bob.user_id) == ["accepted"]
        for me in (ann, bob):
            assert kinds(await social_updates(gql, me)).count("FriendAddedEvent") == 1


async def test_double_accept_from_two_devices_befriends_once(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    await factories.register(services, "bob")
    phone = await factories.login(services, "bob", device_id="phone")
    laptop = await factories.login(services, "bob", device_id="laptop")
    await apply(gql, ann, phone)
    results = await asyncio.gather(call(gql, ACCEPT, phone, u=uid(ann)), call(gql, ACCEPT, laptop, u=uid(ann)))
    assert sorted(str(r.error_code) for r in results) == ["CONFLICT", "None"]
    assert await friendship_rows(services, ann.user_id, phone.user_id) == 2
    assert kinds(await social_updates(gql, ann)) == ["FriendRequestAcceptedEvent", "FriendAddedEvent"]
    assert kinds(await social_updates(gql, laptop)) == ["FriendRequestReceivedEvent", "FriendAddedEvent"]


async def test_both_sides_removing_at_once_remove_once(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await befriend(gql, ann, bob)
    results = await asyncio.gather(call(gql, REMOVE, ann, u=uid(bob)), call(gql, REMOVE, bob, u=uid(ann)))
    assert sorted(str(r.error_code) for r in results) == ["NOT_FOUND", "None"]
    assert await friendship_rows(services, ann.user_id, bob.user_id) == 0
    for me in (ann, bob):
        assert kinds(await social_updates(gql, me)).count("FriendRemovedEvent") == 1


async def test_many_accepts_and_applies_at_once_stay_consistent(services: Services, gql: GraphQLClient) -> None:
    """A hub user accepts ten requests while five more arrive: no lost or half friendship
    (and no deadlock between transactions notifying overlapping users)."""
    hub = await factories.account(services, "hub")
    early = [await factories.account(services, f"early{i}") for i in range(10)]
    late = [await factories.account(services, f"late{i}") for i in range(5)]
    for user in early:
        await apply(gql, user, hub)
    results = await asyncio.gather(
        *(call(gql, ACCEPT, hub, u=uid(u)) for u in early),
        *(apply(gql, u, hub) for u in late),
    )
    assert [r.error_code for r in results] == [None] * 15
    assert sorted(await friend_ids(gql, hub), key=int) == sorted((uid(u) for u in early), key=int)
    for user in early:
        assert await friendship_rows(services, hub.user_id, user.user_id) == 2
    for user in late:
        assert await request_statuses(services, hub.user_id, user.user_id) == ["pending"]
