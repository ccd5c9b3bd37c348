"""group/group/*, group/member/*, group/role/*, group/settings/*: groups through GraphQL,
with their channel events, system lines and user updates. The GraphQL documents and
helpers at the top are shared by the other test_groups_* modules."""

from __future__ import annotations

import asyncio
from typing import Any

from app.events import Listener
from app.runtime import Services
from tests.support import factories
from tests.support.factories import Account
from tests.support.graphql import GraphQLClient, GraphQLResult
from tests.support.social import befriend, set_privacy

GROUP = """id name avatarFileId description ownerId memberCount maxMembers pts myRole muted visibleFromPts
  announcement { text updatedBy }
  settings { joinApproval membersMayInvite membersSeeProfiles forbidForward historyVisible muteAll maxMembers }"""
MEMBER = "userId displayName role joinedAt invitedBy muted mutedUntil user { id username }"
CREATE = f"""mutation($n: String!, $m: [ID!]!, $a: String, $d: String) {{
  groupGroupCreate(input: {{name: $n, memberIds: $m, avatarFileId: $a, description: $d}}) {{ group {{ {GROUP} }} refusedUserIds }} }}"""
INFO = f"query($g: ID!) {{ groupGroupInfo(input: {{groupId: $g}}) {{ group {{ {GROUP} }} }} }}"
LIST = f"query($l: Int!, $c: String) {{ groupGroupList(input: {{limit: $l, cursor: $c}}) {{ groups {{ {GROUP} }} nextCursor }} }}"
DISMISS = "mutation($g: ID!) { groupGroupDismiss(input: {groupId: $g}) { ok } }"
ADD = f"""mutation($g: ID!, $u: [ID!]!, $m: String) {{ groupMemberAdd(input: {{groupId: $g, userIds: $u, message: $m}}) {{
  group {{ {GROUP} }} addedUserIds pendingUserIds refusedUserIds }} }}"""
REMOVE = (
    "mutation($g: ID!, $u: ID!, $b: Boolean!) { groupMemberRemove(input: {groupId: $g, userId: $u, ban: $b}) { ok } }"
)
MEMBERS = f"""query($g: ID!, $l: Int!, $c: String) {{ groupMemberList(input: {{groupId: $g, limit: $l, cursor: $c}}) {{
  members {{ {MEMBER} }} nextCursor }} }}"""
LEAVE = "mutation($g: ID!) { groupMemberLeave(input: {groupId: $g}) { ok } }"
MUTE = f"""mutation($g: ID!, $u: ID!, $s: Int) {{ groupMemberMute(input: {{groupId: $g, userId: $u, durationSeconds: $s}}) {{
  member {{ {MEMBER} }} }} }}"""
UNMUTE = f"mutation($g: ID!, $u: ID!) {{ groupMemberUnmute(input: {{groupId: $g, userId: $u}}) {{ member {{ {MEMBER} }} }} }}"
ROLE = f"mutation($g: ID!, $u: ID!, $r: GroupRole!) {{ groupRoleSet(input: {{groupId: $g, userId: $u, role: $r}}) {{ member {{ {MEMBER} }} }} }}"
TRANSFER = f"mutation($g: ID!, $u: ID!) {{ groupRoleTransferOwner(input: {{groupId: $g, userId: $u}}) {{ group {{ {GROUP} }} }} }}"
SETTINGS = f"query($g: ID!) {{ groupSettingsGet(input: {{groupId: $g}}) {{ group {{ {GROUP} }} settings {{ joinApproval muteAll maxMembers }} }} }}"
UPDATE = f"mutation($i: GroupSettingsUpdateInput!) {{ groupSettingsUpdate(input: $i) {{ group {{ {GROUP} }} }} }}"
MUTE_ALL = f"mutation($g: ID!, $e: Boolean!) {{ groupSettingsMuteAll(input: {{groupId: $g, enabled: $e}}) {{ group {{ {GROUP} }} }} }}"
APPROVALS = """query($g: ID!, $l: Int!, $c: String) { groupApprovalList(input: {groupId: $g, limit: $l, cursor: $c}) {
  requests { user { id username } inviterId source message } nextCursor } }"""
HANDLE = f"mutation($g: ID!, $u: ID!, $a: Boolean!) {{ groupApprovalHandle(input: {{groupId: $g, userId: $u, approve: $a}}) {{ group {{ {GROUP} }} }} }}"
QR_GET = "query($g: ID!) { groupQrcodeGet(input: {groupId: $g}) { qrcode { groupId payload token expiresAt } } }"
QR_REFRESH = """mutation($g: ID!, $s: Int) { groupQrcodeRefresh(input: {groupId: $g, expiresInSeconds: $s}) {
  qrcode { groupId payload token expiresAt } } }"""
JOIN_QR = f"""mutation($q: String!, $m: String) {{ groupJoinQrcode(input: {{qrcode: $q, message: $m}}) {{
  outcome groupId group {{ {GROUP} }} }} }}"""
SEND = """mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, content: {text: {text: $t}}}) {
  message { id pts } } }"""
HISTORY = """query($c: ID!) { messageHistoryGet(input: {channelId: $c, limit: 100, order: OLDEST_FIRST}) {
  messages { pts type senderId content { __typename ... on TextContent { text } ... on SystemContent { text kind } } } } }"""
DIFF = """query($c: ID!, $f: Int!) { syncGetDifference(input: {channelId: $c, fromPts: $f, limit: 500}) { pts events {
  __typename
  ... on MessageEvent { pts message { senderId type content { ... on TextContent { text } ... on SystemContent { text kind } } } }
  ... on GroupEvent { pts kind actorId }
  ... on GroupCreatedEvent { name ownerId memberIds }
  ... on GroupMembersJoinedEvent { userIds inviterId via }
  ... on GroupMemberLeftEvent { userId }
  ... on GroupMemberRemovedEvent { userId banned }
  ... on GroupMemberRoleChangedEvent { userId role }
  ... on GroupOwnerTransferredEvent { fromUserId toUserId }
  ... on GroupMemberMutedEvent { userId muted mutedUntil }
  ... on GroupMuteAllChangedEvent { enabled }
  ... on GroupSettingsChangedEvent { changes }
  ... on GroupAnnouncementChangedEvent { text }
  ... on GroupDismissedEvent { reason }
  ... on OtherChannelEvent { pts kind }
} } }"""
UPDATES = """query($s: Int!) { syncGetUpdates(input: {since: $s, limit: 500}) { seq updates {
  __typename
  ... on ChannelAddedEvent { seq channelId kind }
  ... on ChannelRemovedEvent { seq channelId kind reason removedBy }
  ... on GroupJoinRequestReceivedEvent { seq groupId groupName user { id } inviterId source requestMessage }
  ... on GroupJoinRequestHandledEvent { seq groupId userId approved handledBy }
} } }"""
BATCH_PTS = "query { syncBatchGetChannelPts(input: {changedSince: 0, limit: 500}) { channels { channelId pts } } }"


def uid(account: Account) -> str:
    return str(account.user_id)


async def call(gql: GraphQLClient, document: str, actor: Account, **variables: Any) -> GraphQLResult:
    return await gql.execute(document, variables, token=actor.access_token)


async def ok(gql: GraphQLClient, document: str, actor: Account, **variables: Any) -> dict[str, Any]:
    return (await call(gql, document, actor, **variables)).data


async def create(gql: GraphQLClient, owner: Account, members: list[Account], name: str = "Hikers") -> str:
    data = await ok(gql, CREATE, owner, n=name, m=[uid(m) for m in members])
    assert data["groupGroupCreate"]["refusedUserIds"] == []
    return str(data["groupGroupCreate"]["group"]["id"])


async def accounts(services: Services, *names: str) -> list[Account]:
    return [await factories.account(services, name) for name in names]


_sent = iter(range(1, 10**9))


async def send(gql: GraphQLClient, actor: Account, group: str, text: str) -> GraphQLResult:
    return await call(gql, SEND, actor, c=group, id=f"g-{next(_sent)}", t=text)


async def events(gql: GraphQLClient, actor: Account, group: str, since: int = 0) -> list[dict[str, Any]]:
    return (await ok(gql, DIFF, actor, c=group, f=since))["syncGetDifference"]["events"]


def kinds(evs: list[dict[str, Any]]) -> list[str]:
    """Group events by kind, system lines as `line:<text>`, messages as `msg:<text>`."""
    out = []
    for e in evs:
        if e["__typename"] == "MessageEvent":
            content = e["message"]["content"]
            out.append(("line:" if e["message"]["type"] == "SYSTEM" else "msg:") + content["text"])
        else:
            out.append(e["kind"])
    return out


async def updates(gql: GraphQLClient, actor: Account, since: int = 0) -> list[dict[str, Any]]:
    return (await ok(gql, UPDATES, actor, s=since))["syncGetUpdates"]["updates"]


async def member_ids(gql: GraphQLClient, actor: Account, group: str) -> list[str]:
    data = await ok(gql, MEMBERS, actor, g=group, l=200)
    return [m["userId"] for m in data["groupMemberList"]["members"]]


def drain(listener: Listener) -> list[dict[str, Any]]:
    items = []
    while listener.pending():
        items.append(listener.get_nowait())
    return items


async def settle() -> None:
    """Let after-commit deliveries cross the bus (in-memory or Redis)."""
    await asyncio.sleep(0.3)


# --- create, info, list ------------------------------------------------------------------


async def test_create_makes_the_creator_owner_and_tells_every_member(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carol = await accounts(services, "ann", "bob", "carol")
    data = await ok(gql, CREATE, ann, n="  Hikers ", m=[uid(bob), uid(carol), uid(bob)], d="Weekend walks")
    group = data["groupGroupCreate"]["group"]
    gid = group["id"]
    assert (group["name"], group["description"], group["ownerId"], group["myRole"]) == (
        "Hikers",
        "Weekend walks",
        uid(ann),
        "OWNER",
    )
    assert group["memberCount"] == 3 and group["maxMembers"] == 500
    assert group["settings"] == {
        "joinApproval": False,
        "membersMayInvite": True,
        "membersSeeProfiles": True,
        "forbidForward": False,
        "historyVisible": True,
        "muteAll": False,
        "maxMembers": 500,
    }
    roles = {
        m["userId"]: (m["role"], m["invitedBy"])
        for m in (await ok(gql, MEMBERS, bob, g=gid, l=10))["groupMemberList"]["members"]
    }
    assert roles == {uid(ann): ("OWNER", None), uid(bob): ("MEMBER", uid(ann)), uid(carol): ("MEMBER", uid(ann))}
    evs = await events(gql, carol, gid)
    assert kinds(evs) == ["group_created", "line:ann created the group “Hikers” with bob and carol"]
    assert evs[0]["memberIds"] == [uid(bob), uid(carol)] and evs[0]["ownerId"] == uid(ann)
    for acct in (ann, bob, carol):
        added = [u for u in await updates(gql, acct) if u.get("__typename") == "ChannelAddedEvent"]
        assert added == [{"__typename": "ChannelAddedEvent", "seq": added[0]["seq"], "channelId": gid, "kind": "group"}]
    # a group is a channel: messages, history and sync work unchanged
    sent = (await send(gql, bob, gid, "hello all")).data["messageSend"]["message"]
    assert sent["pts"] == 3
    history = (await ok(gql, HISTORY, carol, c=gid))["messageHistoryGet"]["messages"]
    assert [m["content"]["text"] for m in history][-1] == "hello all"
    assert gid in [c["channelId"] for c in (await ok(gql, BATCH_PTS, carol))["syncBatchGetChannelPts"]["channels"]]


async def test_create_honours_who_may_add_me_to_groups(services: Services, gql: GraphQLClient) -> None:
    ann, closed, friend_only, stranger_friend_only, blocker = await accounts(
        services, "ann", "closed", "friendonly", "strangerfo", "blocker"
    )
    await set_privacy(gql, closed, addToGroup="NOBODY")
    await set_privacy(gql, friend_only, addToGroup="FRIENDS")
    await set_privacy(gql, stranger_friend_only, addToGroup="FRIENDS")
    await befriend(gql, ann, friend_only)
    block = "mutation($u: ID!) { contactBlacklistAdd(input: {userId: $u}) { entry { blockedAt } } }"
    await ok(gql, block, blocker, u=uid(ann))
    created = await ok(
        gql, CREATE, ann, n="Mixed", m=[uid(closed), uid(friend_only), uid(stranger_friend_only), uid(blocker)]
    )
    data = created["groupGroupCreate"]
    assert set(data["refusedUserIds"]) == {uid(closed), uid(stranger_friend_only), uid(blocker)}
    assert data["group"]["memberCount"] == 2
    assert sorted(await member_ids(gql, ann, data["group"]["id"])) == sorted([uid(ann), uid(friend_only)])
    # the refused learn nothing: no channel_added for them
    for acct in (closed, blocker):
        assert not [u for u in await updates(gql, acct) if u.get("__typename") == "ChannelAddedEvent"]


async def test_create_refuses_bad_input(services: Services, gql: GraphQLClient) -> None:
    ann, bob = await accounts(services, "ann", "bob")
    cases = [
        ({"n": "", "m": []}, "BAD_USER_INPUT"),
        ({"n": "   ", "m": []}, "BAD_USER_INPUT"),
        ({"n": "x" * 65, "m": []}, "BAD_USER_INPUT"),
        ({"n": "two\nlines", "m": []}, "BAD_USER_INPUT"),
        ({"n": "ok", "m": [uid(ann)]}, "BAD_USER_INPUT"),
        ({"n": "ok", "m": ["abc"]}, "BAD_USER_INPUT"),
        ({"n": "ok", "m": ["987654321"]}, "NOT_FOUND"),
        ({"n": "ok", "m": [uid(bob)], "a": "javascript:alert(1)"}, "NOT_FOUND"),  # not a file id
        ({"n": "ok", "m": [], "d": "d" * 513}, "BAD_USER_INPUT"),
        ({"n": "ok", "m": [str(i) for i in range(1, 502)]}, "BAD_USER_INPUT"),
    ]
    for variables, code in cases:
        assert (await call(gql, CREATE, ann, **variables)).error_code == code, variables
    assert (await ok(gql, LIST, ann, l=10))["groupGroupList"]["groups"] == []
    # a group of one is fine
    alone = (await ok(gql, CREATE, ann, n="Notes", m=[]))["groupGroupCreate"]["group"]
    assert alone["memberCount"] == 1


async def test_info_and_list_show_only_my_groups(services: Services, gql: GraphQLClient) -> None:
    ann, bob, eve = await accounts(services, "ann", "bob", "eve")
    ids = [await create(gql, ann, [bob], name=f"G{i}") for i in range(3)]
    other = await create(gql, eve, [], name="Eve's")
    seen, cursor = [], None
    while True:
        page = (await ok(gql, LIST, bob, l=2, c=cursor))["groupGroupList"]
        seen += [g["id"] for g in page["groups"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ids
    info = (await ok(gql, INFO, bob, g=ids[0]))["groupGroupInfo"]["group"]
    assert (info["name"], info["myRole"]) == ("G0", "MEMBER")
    foreign = await call(gql, INFO, bob, g=other)
    missing = await call(gql, INFO, bob, g="99999999")
    assert foreign.error_code == missing.error_code == "NOT_FOUND"
    assert foreign.errors[0]["message"] == missing.errors[0]["message"]
    assert (await call(gql, LIST, bob, l=0)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, LIST, bob, l=5, c="garbage!")).error_code == "BAD_USER_INPUT"


# --- members -----------------------------------------------------------------------------


async def test_an_admin_adds_members_at_once_and_everyone_sees_it_live(services: Services, gql: GraphQLClient) -> None:
    ann, bob, dan = await accounts(services, "ann", "bob", "dan")
    gid = await create(gql, ann, [bob])
    await send(gql, ann, gid, "before dan")
    await settle()
    async with services.hub.listen(bob.principal) as on_bob, services.hub.listen(dan.principal) as on_dan:
        data = (await ok(gql, ADD, ann, g=gid, u=[uid(dan)]))["groupMemberAdd"]
        assert (data["addedUserIds"], data["pendingUserIds"], data["refusedUserIds"]) == ([uid(dan)], [], [])
        assert data["group"]["memberCount"] == 3
        await settle()
        bob_items = drain(on_bob)
        dan_items = drain(on_dan)
    assert [(i.get("kind"), i.get("pts")) for i in bob_items] == [("member_joined", 4), ("message", 5)]
    assert bob_items[0]["payload"] == {"userIds": [dan.user_id], "inviterId": ann.user_id, "via": "invite"}
    assert bob_items[1]["message"]["content"]["text"] == "ann invited dan"
    # the newcomer gets the same events live, and a channel_added update
    assert [i.get("kind") for i in dan_items if i["type"] == "channel_event"] == ["member_joined", "message"]
    assert [i["kind"] for i in dan_items if i["type"] == "user_update"] == ["channel_added"]
    # history is visible to newcomers by default
    assert kinds(await events(gql, dan, gid))[2] == "msg:before dan"
    assert (await send(gql, dan, gid, "hi, I'm dan")).error_code is None
    # adding a member again is a no-op
    again = (await ok(gql, ADD, ann, g=gid, u=[uid(dan)]))["groupMemberAdd"]
    assert (again["addedUserIds"], again["refusedUserIds"], again["group"]["memberCount"]) == ([], [], 3)


async def test_hidden_history_starts_a_newcomer_at_their_join(services: Services, gql: GraphQLClient) -> None:
    ann, bob, dan = await accounts(services, "ann", "bob", "dan")
    gid = await create(gql, ann, [bob])
    await ok(gql, UPDATE, ann, i={"groupId": gid, "historyVisible": False})
    await send(gql, bob, gid, "secret plans")
    head = (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"]
    await ok(gql, ADD, ann, g=gid, u=[uid(dan)])
    info = (await ok(gql, INFO, dan, g=gid))["groupGroupInfo"]["group"]
    assert info["visibleFromPts"] == head  # where dan's client starts syncing
    evs = await events(gql, dan, gid)
    assert evs[0]["pts"] == head + 1
    assert kinds(evs) == ["member_joined", "line:ann invited dan"]
    history = (await ok(gql, HISTORY, dan, c=gid))["messageHistoryGet"]["messages"]
    assert [m["content"]["text"] for m in history] == ["ann invited dan"]
    # the others still see everything
    assert "msg:secret plans" in kinds(await events(gql, bob, gid))


async def test_what_a_plain_members_invitation_does_depends_on_the_settings(
    services: Services, gql: GraphQLClient
) -> None:
    ann, admin, bob, dan, eve, fay = await accounts(services, "ann", "mod", "bob", "dan", "eve", "fay")
    gid = await create(gql, ann, [admin, bob])
    await ok(gql, ROLE, ann, g=gid, u=uid(admin), r="ADMIN")
    # allowed, no approval: added at once
    assert (await ok(gql, ADD, bob, g=gid, u=[uid(dan)]))["groupMemberAdd"]["addedUserIds"] == [uid(dan)]
    # approval on: the invitation becomes a request for the owner and admins
    await ok(gql, UPDATE, ann, i={"groupId": gid, "joinApproval": True})
    data = (await ok(gql, ADD, bob, g=gid, u=[uid(eve)], m="she's nice"))["groupMemberAdd"]
    assert (data["addedUserIds"], data["pendingUserIds"]) == ([], [uid(eve)])
    assert uid(eve) not in await member_ids(gql, ann, gid)
    for staff in (ann, admin):
        received = [u for u in await updates(gql, staff) if u.get("__typename") == "GroupJoinRequestReceivedEvent"]
        assert [
            (r["groupId"], r["user"]["id"], r["inviterId"], r["source"], r["requestMessage"]) for r in received
        ] == [(gid, uid(eve), uid(bob), "INVITE", "she's nice")]
    assert not [u for u in await updates(gql, bob) if u.get("__typename") == "GroupJoinRequestReceivedEvent"]
    requests = (await ok(gql, APPROVALS, admin, g=gid, l=10))["groupApprovalList"]["requests"]
    assert [(r["user"]["id"], r["inviterId"], r["source"]) for r in requests] == [(uid(eve), uid(bob), "INVITE")]
    # the owner and admins still add at once under approval
    assert (await ok(gql, ADD, admin, g=gid, u=[uid(fay)]))["groupMemberAdd"]["addedUserIds"] == [uid(fay)]
    # members may not invite at all
    await ok(gql, UPDATE, ann, i={"groupId": gid, "membersMayInvite": False})
    refused = await call(gql, ADD, bob, g=gid, u=[uid(eve)])
    assert refused.error_code == "FORBIDDEN"


async def test_member_list_pages_with_roles_mutes_and_inviters(services: Services, gql: GraphQLClient) -> None:
    ann, *others = await accounts(services, "ann", "mem1", "mem2", "mem3", "mem4")
    gid = await create(gql, ann, others[:2])
    await ok(gql, ADD, others[0], g=gid, u=[uid(others[2]), uid(others[3])])
    await ok(gql, ROLE, ann, g=gid, u=uid(others[0]), r="ADMIN")
    await ok(gql, MUTE, ann, g=gid, u=uid(others[1]), s=600)
    seen, cursor = [], None
    while True:
        page = (await ok(gql, MEMBERS, others[3], g=gid, l=2, c=cursor))["groupMemberList"]
        assert len(page["members"]) <= 2
        seen += page["members"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert [m["userId"] for m in seen] == [uid(a) for a in [ann, *others]]
    by_id = {m["userId"]: m for m in seen}
    assert by_id[uid(ann)]["role"] == "OWNER" and by_id[uid(others[0])]["role"] == "ADMIN"
    assert by_id[uid(others[2])]["invitedBy"] == uid(others[0])
    muted = by_id[uid(others[1])]
    assert muted["muted"] is True and muted["mutedUntil"] is not None
    assert not by_id[uid(others[2])]["muted"]
    for bad in ({"l": 0}, {"l": 201}, {"l": 5, "c": "nope"}):
        assert (await call(gql, MEMBERS, ann, g=gid, **bad)).error_code == "BAD_USER_INPUT"
    outsider = (await accounts(services, "outsider"))[0]
    assert (await call(gql, MEMBERS, outsider, g=gid, l=5)).error_code == "NOT_FOUND"


async def test_a_group_may_hide_profiles_from_plain_members(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carol = await accounts(services, "ann", "bob", "carol")
    gid = await create(gql, ann, [bob, carol])
    await ok(gql, UPDATE, ann, i={"groupId": gid, "membersSeeProfiles": False})
    as_bob = {m["userId"]: m for m in (await ok(gql, MEMBERS, bob, g=gid, l=10))["groupMemberList"]["members"]}
    assert as_bob[uid(carol)]["user"] is None and as_bob[uid(carol)]["displayName"] == "carol"
    assert as_bob[uid(bob)]["user"] == {"id": uid(bob), "username": "bob"}  # oneself, always
    as_ann = {m["userId"]: m for m in (await ok(gql, MEMBERS, ann, g=gid, l=10))["groupMemberList"]["members"]}
    assert as_ann[uid(carol)]["user"] == {"id": uid(carol), "username": "carol"}


async def test_the_member_limit_is_per_group_up_to_the_server_maximum(services: Services, gql: GraphQLClient) -> None:
    ann, admin, b, c, d = await accounts(services, "ann", "mod", "bee", "cee", "dee")
    gid = await create(gql, ann, [admin])
    await ok(gql, ROLE, ann, g=gid, u=uid(admin), r="ADMIN")
    assert (await call(gql, UPDATE, admin, i={"groupId": gid, "maxMembers": 3})).error_code == "FORBIDDEN"
    assert (await call(gql, UPDATE, ann, i={"groupId": gid, "maxMembers": 1})).error_code == "BAD_USER_INPUT"
    assert (await call(gql, UPDATE, ann, i={"groupId": gid, "maxMembers": 2001})).error_code == "BAD_USER_INPUT"
    group = (await ok(gql, UPDATE, ann, i={"groupId": gid, "maxMembers": 3}))["groupSettingsUpdate"]["group"]
    assert group["maxMembers"] == group["settings"]["maxMembers"] == 3
    full = await call(gql, ADD, admin, g=gid, u=[uid(b), uid(c)])
    assert full.error_code == "CONFLICT" and full.errors[0]["extensions"]["reason"] == "group_full"
    assert (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["memberCount"] == 2  # nothing half-done
    assert (await ok(gql, ADD, admin, g=gid, u=[uid(b)]))["groupMemberAdd"]["addedUserIds"] == [uid(b)]
    assert (await call(gql, ADD, admin, g=gid, u=[uid(d)])).error_code == "CONFLICT"
    assert (await call(gql, UPDATE, ann, i={"groupId": gid, "maxMembers": 2})).error_code == "BAD_USER_INPUT"
    # a member leaving frees a seat
    await ok(gql, LEAVE, b, g=gid)
    assert (await ok(gql, ADD, admin, g=gid, u=[uid(d)]))["groupMemberAdd"]["addedUserIds"] == [uid(d)]


# --- roles -------------------------------------------------------------------------------


async def test_the_owner_appoints_admins_and_nobody_promotes_themselves(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carol = await accounts(services, "ann", "bob", "carol")
    gid = await create(gql, ann, [bob, carol])
    assert (await call(gql, ROLE, bob, g=gid, u=uid(bob), r="ADMIN")).error_code == "FORBIDDEN"
    member = (await ok(gql, ROLE, ann, g=gid, u=uid(bob), r="ADMIN"))["groupRoleSet"]["member"]
    assert member["role"] == "ADMIN"
    # an admin cannot appoint others, nor make themselves owner
    assert (await call(gql, ROLE, bob, g=gid, u=uid(carol), r="ADMIN")).error_code == "FORBIDDEN"
    assert (await call(gql, ROLE, bob, g=gid, u=uid(bob), r="OWNER")).error_code == "BAD_USER_INPUT"
    assert (await call(gql, TRANSFER, bob, g=gid, u=uid(bob))).error_code == "FORBIDDEN"
    assert (await call(gql, ROLE, ann, g=gid, u=uid(ann), r="MEMBER")).error_code == "BAD_USER_INPUT"
    assert (await call(gql, ROLE, ann, g=gid, u="99999999", r="ADMIN")).error_code == "NOT_FOUND"
    # setting the same role again stores nothing
    pts = (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"]
    await ok(gql, ROLE, ann, g=gid, u=uid(bob), r="ADMIN")
    assert (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"] == pts
    await ok(gql, ROLE, ann, g=gid, u=uid(bob), r="MEMBER")
    evs = await events(gql, carol, gid, since=2)
    assert kinds(evs) == [
        "member_role_changed",
        "line:bob is now an admin",
        "member_role_changed",
        "line:bob is no longer an admin",
    ]
    assert [e["role"] for e in evs if e["__typename"] == "GroupMemberRoleChangedEvent"] == ["ADMIN", "MEMBER"]


async def test_ownership_moves_and_the_owner_cannot_just_leave(services: Services, gql: GraphQLClient) -> None:
    ann, bob = await accounts(services, "ann", "bob")
    gid = await create(gql, ann, [bob])
    left = await call(gql, LEAVE, ann, g=gid)
    assert left.error_code == "FORBIDDEN" and "transfer" in left.errors[0]["message"]
    group = (await ok(gql, TRANSFER, ann, g=gid, u=uid(bob)))["groupRoleTransferOwner"]["group"]
    assert (group["ownerId"], group["myRole"]) == (uid(bob), "ADMIN")
    evs = await events(gql, bob, gid, since=2)
    assert kinds(evs) == ["owner_transferred", "line:bob is now the group owner"]
    assert (evs[0]["fromUserId"], evs[0]["toUserId"]) == (uid(ann), uid(bob))
    assert (await call(gql, LEAVE, bob, g=gid)).error_code == "FORBIDDEN"
    assert (await call(gql, REMOVE, ann, g=gid, u=uid(bob), b=False)).error_code == "FORBIDDEN"
    assert (await call(gql, TRANSFER, ann, g=gid, u=uid(ann))).error_code == "FORBIDDEN"
    await ok(gql, LEAVE, ann, g=gid)
    assert await member_ids(gql, bob, gid) == [uid(bob)]


# --- leaving, removing, dismissing -------------------------------------------------------


async def test_a_member_who_leaves_is_cut_off_at_once(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carol = await accounts(services, "ann", "bob", "carol")
    gid = await create(gql, ann, [bob, carol])
    await send(gql, ann, gid, "one")
    await settle()
    async with services.hub.listen(bob.principal) as on_bob, services.hub.listen(ann.principal) as on_ann:
        await ok(gql, LEAVE, bob, g=gid)
        await send(gql, ann, gid, "after bob left")
        await settle()
        bob_items, ann_items = drain(on_bob), drain(on_ann)
    assert [i["kind"] for i in bob_items] == ["channel_removed"]
    assert bob_items[0]["payload"] == {"channelId": int(gid), "kind": "group", "reason": "left", "by": bob.user_id}
    assert [i.get("kind") for i in ann_items] == ["member_left", "message", "message"]
    assert ann_items[1]["message"]["content"]["text"] == "bob left the group"
    # no sending, no sync, no history, no info: the group looks like one that never existed
    for result in (
        await send(gql, bob, gid, "still here?"),
        await call(gql, DIFF, bob, c=gid, f=0),
        await call(gql, HISTORY, bob, c=gid),
        await call(gql, INFO, bob, g=gid),
        await call(gql, MEMBERS, bob, g=gid, l=5),
    ):
        assert result.error_code == "NOT_FOUND"
    assert gid not in [c["channelId"] for c in (await ok(gql, BATCH_PTS, bob))["syncBatchGetChannelPts"]["channels"]]
    assert (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["memberCount"] == 2
    # invited back, bob is a member again
    assert (await ok(gql, ADD, ann, g=gid, u=[uid(bob)]))["groupMemberAdd"]["addedUserIds"] == [uid(bob)]
    assert (await send(gql, bob, gid, "back")).error_code is None


async def test_kicks_follow_rank_and_a_ban_keeps_them_out(services: Services, gql: GraphQLClient) -> None:
    ann, admin1, admin2, bob, carol = await accounts(services, "ann", "admin1", "admin2", "bob", "carol")
    gid = await create(gql, ann, [admin1, admin2, bob, carol])
    for a in (admin1, admin2):
        await ok(gql, ROLE, ann, g=gid, u=uid(a), r="ADMIN")
    assert (await call(gql, REMOVE, bob, g=gid, u=uid(carol), b=False)).error_code == "FORBIDDEN"
    assert (await call(gql, REMOVE, admin1, g=gid, u=uid(ann), b=False)).error_code == "FORBIDDEN"
    assert (await call(gql, REMOVE, admin1, g=gid, u=uid(admin2), b=False)).error_code == "FORBIDDEN"
    assert (await call(gql, REMOVE, admin1, g=gid, u=uid(admin1), b=False)).error_code == "BAD_USER_INPUT"
    assert (await call(gql, REMOVE, admin1, g=gid, u="99999999", b=False)).error_code == "NOT_FOUND"
    async with services.hub.listen(bob.principal) as on_bob:
        await ok(gql, REMOVE, admin1, g=gid, u=uid(bob), b=True)
        await send(gql, ann, gid, "bob is gone")
        await settle()
        items = drain(on_bob)
    assert [(i["type"], i.get("kind")) for i in items] == [("user_update", "channel_removed")]
    assert items[0]["payload"]["reason"] == "removed" and items[0]["payload"]["by"] == admin1.user_id
    evs = await events(gql, carol, gid, since=2)
    removed = [e for e in evs if e["__typename"] == "GroupMemberRemovedEvent"]
    assert [(e["userId"], e["banned"], e["actorId"]) for e in removed] == [(uid(bob), True, uid(admin1))]
    assert "line:admin1 removed bob" in kinds(evs)
    assert (await send(gql, bob, gid, "let me in")).error_code == "NOT_FOUND"
    # banned: a plain member's invitation is refused, an admin's lifts the ban
    refused = (await ok(gql, ADD, carol, g=gid, u=[uid(bob)]))["groupMemberAdd"]
    assert (refused["addedUserIds"], refused["refusedUserIds"]) == ([], [uid(bob)])
    assert (await ok(gql, ADD, admin2, g=gid, u=[uid(bob)]))["groupMemberAdd"]["addedUserIds"] == [uid(bob)]
    # the owner removes an admin
    await ok(gql, REMOVE, ann, g=gid, u=uid(admin2), b=False)
    assert uid(admin2) not in await member_ids(gql, ann, gid)


async def test_the_owner_dismisses_the_group_for_everyone(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carol = await accounts(services, "ann", "bob", "carol")
    gid = await create(gql, ann, [bob, carol])
    await ok(gql, ROLE, ann, g=gid, u=uid(bob), r="ADMIN")
    assert (await call(gql, DISMISS, bob, g=gid)).error_code == "FORBIDDEN"
    assert (await call(gql, DISMISS, carol, g=gid)).error_code == "FORBIDDEN"
    async with services.hub.listen(carol.principal) as on_carol:
        await ok(gql, DISMISS, ann, g=gid)
        await settle()
        items = drain(on_carol)
    assert [(i["type"], i.get("kind")) for i in items] == [
        ("channel_event", "group_dismissed"),
        ("user_update", "channel_removed"),
    ]
    assert items[1]["payload"]["reason"] == "dismissed"
    for acct in (ann, bob, carol):
        assert (await call(gql, INFO, acct, g=gid)).error_code == "NOT_FOUND"
        assert (await send(gql, acct, gid, "hello?")).error_code == "NOT_FOUND"
        assert (await ok(gql, LIST, acct, l=10))["groupGroupList"]["groups"] == []
    assert (await call(gql, DISMISS, ann, g=gid)).error_code == "NOT_FOUND"


# --- settings ----------------------------------------------------------------------------


async def test_settings_changes_are_events_with_lines_where_expected(services: Services, gql: GraphQLClient) -> None:
    ann, bob, carol = await accounts(services, "ann", "bob", "carol")
    gid = await create(gql, ann, [bob, carol])
    await ok(gql, ROLE, ann, g=gid, u=uid(bob), r="ADMIN")
    assert (await call(gql, UPDATE, carol, i={"groupId": gid, "name": "Mine"})).error_code == "FORBIDDEN"
    assert (await call(gql, UPDATE, bob, i={"groupId": gid})).error_code == "BAD_USER_INPUT"
    for bad in ({"name": ""}, {"description": "x" * 513}, {"announcement": "a" * 2001}):
        assert (await call(gql, UPDATE, bob, i={"groupId": gid, **bad})).error_code == "BAD_USER_INPUT", bad
    start = (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]["pts"]
    group = (
        await ok(gql, UPDATE, bob, i={"groupId": gid, "name": "Summit", "joinApproval": True, "forbidForward": True})
    )["groupSettingsUpdate"]["group"]
    assert (group["name"], group["settings"]["joinApproval"], group["settings"]["forbidForward"]) == (
        "Summit",
        True,
        True,
    )
    group = (await ok(gql, UPDATE, bob, i={"groupId": gid, "announcement": "Meet at 8"}))["groupSettingsUpdate"][
        "group"
    ]
    assert group["announcement"] == {"text": "Meet at 8", "updatedBy": uid(bob)}
    # setting what is already set changes nothing and stores nothing
    same = await ok(gql, UPDATE, bob, i={"groupId": gid, "name": "Summit", "announcement": "Meet at 8"})
    assert same["groupSettingsUpdate"]["group"]["pts"] == group["pts"]
    cleared = (await ok(gql, UPDATE, ann, i={"groupId": gid, "announcement": "", "description": "Peaks"}))[
        "groupSettingsUpdate"
    ]["group"]
    assert cleared["announcement"] is None and cleared["description"] == "Peaks"
    evs = await events(gql, carol, gid, since=start)
    assert kinds(evs) == [
        "group_settings_changed",
        "line:bob renamed the group to “Summit”",
        "line:bob turned on join approval",
        "line:bob turned off forwarding of this group's messages",
        "announcement_changed",
        "line:bob updated the group announcement",
        "group_settings_changed",
        "announcement_changed",
        "line:ann removed the group announcement",
    ]
    assert evs[0]["changes"] == {"name": "Summit", "joinApproval": True, "forbidForward": True}
    assert evs[4]["text"] == "Meet at 8" and evs[7]["text"] is None
    settings = (await ok(gql, SETTINGS, carol, g=gid))["groupSettingsGet"]
    assert settings["settings"] == {"joinApproval": True, "muteAll": False, "maxMembers": 500}
    # the conversation list shows the new name
    channel = (
        "query($c: ID!) { channelInfo(input: {channelId: $c}) { conversation { channel { title kind memberCount } } } }"
    )
    conv = (await ok(gql, channel, carol, c=gid))["channelInfo"]["conversation"]["channel"]
    assert conv == {"title": "Summit", "kind": "GROUP", "memberCount": 3}


async def test_both_doors_agree_on_group_routes(api: Any, services: Services, gql: GraphQLClient) -> None:
    from app.context import RequestContext
    from app.errors import AppError

    ann, bob = await accounts(services, "ann", "bob")
    as_ann = RequestContext(services=services, transport="test", token=ann.access_token)
    as_bob = RequestContext(services=services, transport="test", token=bob.access_token)
    created = await api.call("group/group/create", as_ann, {"name": "Native", "memberIds": [uid(bob)]})
    gid = created["group"]["id"]
    native = (await api.call("group/group/info", as_ann, {"groupId": gid}))["group"]
    graphql = (await ok(gql, INFO, ann, g=gid))["groupGroupInfo"]["group"]
    for key in ("id", "name", "ownerId", "memberCount", "maxMembers", "pts", "myRole", "muted", "settings"):
        assert native[key] == graphql[key], key
    members = (await api.call("group/member/list", as_bob, {"groupId": gid, "limit": 10}))["members"]
    assert [(m["userId"], m["role"]) for m in members] == [(uid(ann), "OWNER"), (uid(bob), "MEMBER")]
    for route, args, code in (
        ("group/member/remove", {"groupId": gid, "userId": uid(ann)}, "FORBIDDEN"),
        ("group/group/info", {"groupId": "99999999"}, "NOT_FOUND"),
        ("group/member/mute", {"groupId": gid, "userId": uid(ann), "durationSeconds": "soon"}, "BAD_USER_INPUT"),
    ):
        try:
            await api.call(route, as_bob, args)
            raise AssertionError(f"{route} should fail")
        except AppError as exc:
            assert exc.code.value == code, route
    assert (await call(gql, REMOVE, bob, g=gid, u=uid(ann), b=False)).error_code == "FORBIDDEN"
