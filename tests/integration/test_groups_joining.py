"""group/approval/*, group/qrcode/*, group/join/qrcode."""

from __future__ import annotations

from typing import Any

import pytest

from app.db.types import now_ms
from app.runtime import Services
from tests.integration.test_groups import (
    ADD,
    APPROVALS,
    HANDLE,
    JOIN_QR,
    QR_GET,
    QR_REFRESH,
    REMOVE,
    ROLE,
    UPDATE,
    accounts,
    call,
    create,
    events,
    kinds,
    member_ids,
    ok,
    send,
    uid,
    updates,
)
from tests.support.graphql import GraphQLClient


def of_type(items: list[dict[str, Any]], typename: str) -> list[dict[str, Any]]:
    return [u for u in items if u.get("__typename") == typename]


async def test_owner_and_admins_approve_or_reject_join_requests(services: Services, gql: GraphQLClient) -> None:
    ann, mod, bob, eve, fay = await accounts(services, "ann", "mod", "bob", "eve", "fay")
    gid = await create(gql, ann, [mod, bob])
    await ok(gql, ROLE, ann, g=gid, u=uid(mod), r="ADMIN")
    await ok(gql, UPDATE, ann, i={"groupId": gid, "joinApproval": True})
    await ok(gql, ADD, bob, g=gid, u=[uid(eve), uid(fay)], m="friends of mine")
    # a plain member cannot see or handle requests
    assert (await call(gql, APPROVALS, bob, g=gid, l=10)).error_code == "FORBIDDEN"
    assert (await call(gql, HANDLE, bob, g=gid, u=uid(eve), a=True)).error_code == "FORBIDDEN"
    # nor can the requester approve themselves (not a member: the group does not exist for them)
    assert (await call(gql, HANDLE, eve, g=gid, u=uid(eve), a=True)).error_code == "NOT_FOUND"
    first = (await ok(gql, APPROVALS, mod, g=gid, l=1))["groupApprovalList"]
    assert [r["user"]["id"] for r in first["requests"]] == [uid(eve)] and first["nextCursor"]
    second = (await ok(gql, APPROVALS, mod, g=gid, l=1, c=first["nextCursor"]))["groupApprovalList"]
    assert [(r["user"]["id"], r["message"]) for r in second["requests"]] == [(uid(fay), "friends of mine")]
    assert second["nextCursor"] is None

    group = (await ok(gql, HANDLE, mod, g=gid, u=uid(eve), a=True))["groupApprovalHandle"]["group"]
    assert group["memberCount"] == 4
    await ok(gql, HANDLE, ann, g=gid, u=uid(fay), a=False)
    assert sorted(await member_ids(gql, ann, gid), key=int) == sorted([uid(a) for a in (ann, mod, bob, eve)], key=int)
    assert (await call(gql, HANDLE, ann, g=gid, u=uid(fay), a=True)).error_code == "NOT_FOUND"  # handled already
    assert (await call(gql, HANDLE, ann, g=gid, u=uid(ann), a=True)).error_code == "NOT_FOUND"  # never asked
    assert (await ok(gql, APPROVALS, ann, g=gid, l=10))["groupApprovalList"]["requests"] == []

    # the requesters (and the member who invited them) are told
    handled = of_type(await updates(gql, eve), "GroupJoinRequestHandledEvent")
    assert [(h["groupId"], h["approved"], h["handledBy"]) for h in handled] == [(gid, True, uid(mod))]
    assert of_type(await updates(gql, eve), "ChannelAddedEvent")[0]["channelId"] == gid
    handled = of_type(await updates(gql, fay), "GroupJoinRequestHandledEvent")
    assert [(h["approved"], h["handledBy"]) for h in handled] == [(False, uid(ann))]
    assert not of_type(await updates(gql, fay), "ChannelAddedEvent")
    assert len(of_type(await updates(gql, bob), "GroupJoinRequestHandledEvent")) == 2
    evs = await events(gql, eve, gid, since=0)
    joined = [e for e in evs if e["__typename"] == "GroupMembersJoinedEvent"]
    assert [(e["userIds"], e["inviterId"], e["via"]) for e in joined] == [([uid(eve)], uid(bob), "approval")]
    assert "line:eve joined the group" in kinds(evs)
    assert (await send(gql, eve, gid, "hi")).error_code is None
    assert (await send(gql, fay, gid, "hi")).error_code == "NOT_FOUND"


async def test_group_qrcodes_are_for_owner_and_admins_and_join_people(services: Services, gql: GraphQLClient) -> None:
    ann, bob, dan, eve = await accounts(services, "ann", "bob", "dan", "eve")
    gid = await create(gql, ann, [bob])
    assert (await call(gql, QR_GET, bob, g=gid)).error_code == "FORBIDDEN"
    assert (await call(gql, QR_GET, dan, g=gid)).error_code == "NOT_FOUND"
    code = (await ok(gql, QR_GET, ann, g=gid))["groupQrcodeGet"]["qrcode"]
    assert code["payload"] == "privchat://group/" + code["token"] and code["groupId"] == gid
    assert (await ok(gql, QR_GET, ann, g=gid))["groupQrcodeGet"]["qrcode"] == code  # stable until refreshed
    joined = (await ok(gql, JOIN_QR, dan, q=code["payload"]))["groupJoinQrcode"]
    assert (joined["outcome"], joined["groupId"], joined["group"]["myRole"]) == ("JOINED", gid, "MEMBER")
    again = (await ok(gql, JOIN_QR, dan, q=code["token"]))["groupJoinQrcode"]  # a bare token works too
    assert again["outcome"] == "JOINED" and again["group"]["memberCount"] == 3
    evs = await events(gql, bob, gid)
    assert kinds(evs)[-2:] == ["member_joined", "line:dan joined the group via its QR code"]
    assert evs[-2]["via"] == "qrcode" and evs[-2]["inviterId"] == uid(ann)
    # a refresh invalidates the old code at once
    fresh = (await ok(gql, QR_REFRESH, ann, g=gid, s=3600))["groupQrcodeRefresh"]["qrcode"]
    assert fresh["token"] != code["token"]
    old = await call(gql, JOIN_QR, eve, q=code["payload"])
    assert old.error_code == "NOT_FOUND"
    assert (await ok(gql, JOIN_QR, eve, q=fresh["payload"]))["groupJoinQrcode"]["outcome"] == "JOINED"
    for bad in ("", "privchat://group/short", "privchat://user/" + "x" * 43, "x" * 65, "../../etc/passwd"):
        assert (await call(gql, JOIN_QR, eve, q=bad)).error_code == "BAD_USER_INPUT", bad
    assert (await call(gql, JOIN_QR, eve, q="A" * 43)).error_code == "NOT_FOUND"
    for ttl in (59, 366 * 24 * 3600):
        assert (await call(gql, QR_REFRESH, ann, g=gid, s=ttl)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, QR_REFRESH, bob, g=gid, s=None)).error_code == "FORBIDDEN"


async def test_an_expired_qrcode_is_refused_and_replaced(
    services: Services, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, dan = await accounts(services, "ann", "dan")
    gid = await create(gql, ann, [])
    code = (await ok(gql, QR_REFRESH, ann, g=gid, s=60))["groupQrcodeRefresh"]["qrcode"]
    later = now_ms() + 61_000
    monkeypatch.setattr("app.groups.joining.now_ms", lambda: later)
    expired = await call(gql, JOIN_QR, dan, q=code["payload"])
    assert expired.error_code == "NOT_FOUND"
    assert expired.errors[0]["extensions"]["reason"] == "expired"
    assert "expired" in expired.errors[0]["message"]
    renewed = (await ok(gql, QR_GET, ann, g=gid))["groupQrcodeGet"]["qrcode"]
    assert renewed["token"] != code["token"]
    assert (await ok(gql, JOIN_QR, dan, q=renewed["payload"]))["groupJoinQrcode"]["outcome"] == "JOINED"


async def test_a_code_dies_with_its_makers_rights(services: Services, gql: GraphQLClient) -> None:
    ann, mod, dan = await accounts(services, "ann", "mod", "dan")
    gid = await create(gql, ann, [mod])
    await ok(gql, ROLE, ann, g=gid, u=uid(mod), r="ADMIN")
    code = (await ok(gql, QR_GET, mod, g=gid))["groupQrcodeGet"]["qrcode"]
    await ok(gql, ROLE, ann, g=gid, u=uid(mod), r="MEMBER")
    assert (await call(gql, JOIN_QR, dan, q=code["payload"])).error_code == "NOT_FOUND"
    renewed = (await ok(gql, QR_GET, ann, g=gid))["groupQrcodeGet"]["qrcode"]
    assert renewed["token"] != code["token"]


async def test_qr_joins_go_through_approval_and_bans_hold(services: Services, gql: GraphQLClient) -> None:
    ann, bob, dan = await accounts(services, "ann", "bob", "dan")
    gid = await create(gql, ann, [bob])
    await ok(gql, UPDATE, ann, i={"groupId": gid, "joinApproval": True})
    code = (await ok(gql, QR_GET, ann, g=gid))["groupQrcodeGet"]["qrcode"]["payload"]
    pending = (await ok(gql, JOIN_QR, dan, q=code, m="let me in"))["groupJoinQrcode"]
    assert (pending["outcome"], pending["groupId"], pending["group"]) == ("PENDING", gid, None)
    assert uid(dan) not in await member_ids(gql, ann, gid)
    requests = (await ok(gql, APPROVALS, ann, g=gid, l=10))["groupApprovalList"]["requests"]
    assert [(r["user"]["id"], r["source"], r["message"], r["inviterId"]) for r in requests] == [
        (uid(dan), "QRCODE", "let me in", uid(ann))
    ]
    received = of_type(await updates(gql, ann), "GroupJoinRequestReceivedEvent")
    assert [(r["user"]["id"], r["source"]) for r in received] == [(uid(dan), "QRCODE")]
    await ok(gql, HANDLE, ann, g=gid, u=uid(dan), a=True)
    assert uid(dan) in await member_ids(gql, ann, gid)
    # removed with a ban: the code no longer lets them in
    await ok(gql, REMOVE, ann, g=gid, u=uid(dan), b=True)
    await ok(gql, UPDATE, ann, i={"groupId": gid, "joinApproval": False})
    banned = await call(gql, JOIN_QR, dan, q=code)
    assert banned.error_code == "FORBIDDEN"
    assert uid(dan) not in await member_ids(gql, ann, gid)
