"""group/member/mute|unmute and group/settings/mute_all: who may speak, enforced by
messageSend itself."""

from __future__ import annotations

import asyncio

from app.runtime import Services
from tests.integration.test_groups import (
    INFO,
    MEMBERS,
    MUTE,
    MUTE_ALL,
    ROLE,
    UNMUTE,
    accounts,
    call,
    create,
    events,
    kinds,
    ok,
    send,
    uid,
)
from tests.support.graphql import GraphQLClient


async def test_a_muted_member_cannot_send_until_unmuted(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carol = await accounts(services, "ann", "bob", "carol")
    gid = await create(gql, ann, [bob, carol])
    member = (await ok(gql, MUTE, ann, g=gid, u=uid(bob), s=None))["groupMemberMute"]["member"]
    assert (member["muted"], member["mutedUntil"]) == (True, None)  # until unmuted
    refused = await send(gql, bob, gid, "can I talk?")
    assert refused.error_code == "FORBIDDEN" and "muted" in refused.errors[0]["message"]
    assert (await send(gql, carol, gid, "I can")).error_code is None
    # bob's own view says so
    assert (await ok(gql, INFO, bob, g=gid))["groupGroupInfo"]["group"]["muted"] is True
    member = (await ok(gql, UNMUTE, ann, g=gid, u=uid(bob)))["groupMemberUnmute"]["member"]
    assert (member["muted"], member["mutedUntil"]) == (False, None)
    assert (await send(gql, bob, gid, "thanks")).error_code is None
    evs = [e for e in await events(gql, carol, gid) if e["__typename"] == "GroupMemberMutedEvent"]
    assert [(e["kind"], e["userId"], e["muted"], e["actorId"]) for e in evs] == [
        ("member_muted", uid(bob), True, uid(ann)),
        ("member_unmuted", uid(bob), False, uid(ann)),
    ]
    # unmuting someone who is not muted stores nothing
    pts = (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"]
    await ok(gql, UNMUTE, ann, g=gid, u=uid(bob))
    assert (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"] == pts


async def test_a_timed_mute_expires_on_its_own(services: Services, gql: GraphQLClient) -> None:
    ann, bob = await accounts(services, "ann", "bob")
    gid = await create(gql, ann, [bob])
    member = (await ok(gql, MUTE, ann, g=gid, u=uid(bob), s=1))["groupMemberMute"]["member"]
    assert member["muted"] is True and member["mutedUntil"] is not None
    assert (await send(gql, bob, gid, "now?")).error_code == "FORBIDDEN"
    await asyncio.sleep(1.2)
    assert (await send(gql, bob, gid, "now!")).error_code is None
    listed = {m["userId"]: m for m in (await ok(gql, MEMBERS, ann, g=gid, l=10))["groupMemberList"]["members"]}
    assert (listed[uid(bob)]["muted"], listed[uid(bob)]["mutedUntil"]) == (False, None)


async def test_only_a_higher_rank_mutes(services: Services, gql: GraphQLClient) -> None:
    ann, boss, mod, bob, carol = await accounts(services, "ann", "boss", "mod", "bob", "carol")
    gid = await create(gql, ann, [boss, mod, bob, carol])
    for a in (boss, mod):
        await ok(gql, ROLE, ann, g=gid, u=uid(a), r="ADMIN")
    assert (await call(gql, MUTE, bob, g=gid, u=uid(carol), s=60)).error_code == "FORBIDDEN"
    assert (await call(gql, MUTE, boss, g=gid, u=uid(mod), s=60)).error_code == "FORBIDDEN"
    assert (await call(gql, MUTE, boss, g=gid, u=uid(ann), s=60)).error_code == "FORBIDDEN"
    assert (await call(gql, MUTE, boss, g=gid, u=uid(boss), s=60)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, MUTE, boss, g=gid, u=uid(bob), s=0)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, MUTE, boss, g=gid, u=uid(bob), s=400 * 24 * 3600)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, MUTE, boss, g=gid, u="99999999", s=60)).error_code == "NOT_FOUND"
    assert (await call(gql, UNMUTE, bob, g=gid, u=uid(carol))).error_code == "FORBIDDEN"
    await ok(gql, MUTE, boss, g=gid, u=uid(bob), s=60)
    await ok(gql, MUTE, ann, g=gid, u=uid(mod), s=60)  # the owner outranks admins
    assert (await send(gql, mod, gid, "hm")).error_code == "FORBIDDEN"


async def test_mute_all_lets_only_the_owner_and_admins_speak(services: Services, gql: GraphQLClient) -> None:
    ann, mod, bob = await accounts(services, "ann", "mod", "bob")
    gid = await create(gql, ann, [mod, bob])
    await ok(gql, ROLE, ann, g=gid, u=uid(mod), r="ADMIN")
    assert (await call(gql, MUTE_ALL, bob, g=gid, e=True)).error_code == "FORBIDDEN"
    group = (await ok(gql, MUTE_ALL, mod, g=gid, e=True))["groupSettingsMuteAll"]["group"]
    assert group["settings"]["muteAll"] is True and group["muted"] is False  # admins still speak
    assert (await ok(gql, INFO, bob, g=gid))["groupGroupInfo"]["group"]["muted"] is True
    refused = await send(gql, bob, gid, "hello?")
    assert refused.error_code == "FORBIDDEN"
    assert (await send(gql, mod, gid, "admins only for now")).error_code is None
    assert (await send(gql, ann, gid, "and the owner")).error_code is None
    start = (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"]
    await ok(gql, MUTE_ALL, mod, g=gid, e=True)  # already on: nothing stored
    assert (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"] == start
    await ok(gql, MUTE_ALL, ann, g=gid, e=False)
    assert (await send(gql, bob, gid, "finally")).error_code is None
    evs = await events(gql, bob, gid, since=4)
    assert kinds(evs)[:2] == [
        "mute_all_changed",
        "line:mod muted the group: only the owner and admins can send messages",
    ]
    assert kinds(evs)[-3:] == ["mute_all_changed", "line:ann unmuted the group", "msg:finally"]
    toggles = [e["enabled"] for e in evs if e["__typename"] == "GroupMuteAllChangedEvent"]
    assert toggles == [True, False]
    # nothing bob tried while muted was stored
    assert "msg:hello?" not in kinds(evs)
