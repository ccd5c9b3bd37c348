"""account/search/*, user/qrcode/*, account/user/share_card."""

from __future__ import annotations

import asyncio

import pytest

from app.accounts.service import ProfileChanges
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient
from tests.support.social import BLOCK, CHECK, apply, befriend, call, set_privacy, social_updates, uid

SEARCH = """query($q: String!, $l: Int!, $c: String) {
  accountSearchQuery(input: {query: $q, limit: $l, cursor: $c}) {
    results { user { id username displayName } isFriend matchedBy } nextCursor
  }
}"""
QR_GET = "query { userQrcodeGet { qrcode { payload token createdAt expiresAt } } }"
QR_REFRESH = (
    "mutation($t: Int) { userQrcodeRefresh(input: {expiresInSeconds: $t}) { qrcode { payload token expiresAt } } }"
)
QR_RESOLVE = "query($c: String!) { userQrcodeResolve(input: {qrcode: $c}) { user { id username } isFriend } }"
BY_QR = "query($c: String!) { accountSearchByQrcode(input: {qrcode: $c}) { user { id username } isFriend } }"
SHARE = """mutation($u: ID!, $to: ID!) { accountUserShareCard(input: {userId: $u, toUserId: $to}) {
  card { id user { id username } toUserId sharedAt }
} }"""


async def search(gql: GraphQLClient, viewer: factories.Account, q: str, limit: int = 20, cursor: str | None = None):
    return await gql.execute(SEARCH, {"q": q, "l": limit, "c": cursor}, token=viewer.access_token)


async def names(gql: GraphQLClient, viewer: factories.Account, q: str) -> list[str]:
    return [r["user"]["username"] for r in (await search(gql, viewer, q)).data["accountSearchQuery"]["results"]]


async def test_search_by_username_and_display_name_prefix(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    await factories.register(services, "bobby", display_name="Robert Smith")
    await factories.register(services, "roberta", display_name="Bertie")
    await factories.register(services, "carol", display_name="Carol")
    assert await names(gql, ann, "bob") == ["bobby"]
    assert await names(gql, ann, "ROB") == ["bobby", "roberta"]  # display name "Robert", username "roberta"
    results = (await search(gql, ann, "rob")).data["accountSearchQuery"]["results"]
    assert [(r["user"]["username"], r["matchedBy"]) for r in results] == [
        ("bobby", "DISPLAY_NAME"),
        ("roberta", "USERNAME"),
    ]
    assert await names(gql, ann, "ann") == []  # never yourself
    assert await names(gql, ann, "zzz") == []


async def test_like_metacharacters_are_taken_literally(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    await factories.register(services, "ab_cd")
    await factories.register(services, "abxcd")
    await factories.register(services, "pct", display_name="100% sure")
    assert await names(gql, ann, "ab_") == ["ab_cd"]
    assert await names(gql, ann, "%") == []
    assert await names(gql, ann, "100%") == ["pct"]
    assert await names(gql, ann, "_") == []
    assert await names(gql, ann, "\\") == []


async def test_exact_phone_and_email_only(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    await services.accounts.update_profile(
        bob.principal, ProfileChanges(phone="+49 170 1234567", email="Bob@Example.org")
    )
    phone = (await search(gql, ann, "+491701234567")).data["accountSearchQuery"]
    assert [(r["user"]["username"], r["matchedBy"]) for r in phone["results"]] == [("bob", "PHONE")]
    assert phone["nextCursor"] is None
    assert await names(gql, ann, "+49 170 123-4567") == ["bob"]
    assert await names(gql, ann, "+4917012345") == []  # no prefix match on numbers
    assert await names(gql, ann, "bob@example.org") == ["bob"]
    assert await names(gql, ann, "bob@example") == []
    await set_privacy(gql, bob, findByPhone="NOBODY")
    assert await names(gql, ann, "+491701234567") == []
    assert await names(gql, ann, "bob@example.org") == ["bob"]


async def test_hidden_and_blocking_users_never_show(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    hidden = await factories.account(services, "tomhidden")
    blocker = await factories.account(services, "tomblocker")
    friend_only = await factories.account(services, "tomfriendonly")
    friend = await factories.account(services, "tomfriend")
    await factories.register(services, "tomvisible")
    await set_privacy(gql, hidden, findByUsername="NOBODY")
    await call(gql, BLOCK, blocker, u=uid(ann))
    await set_privacy(gql, friend_only, findByUsername="FRIENDS")
    await befriend(gql, ann, friend)  # found by username first, then hidden from non-friends
    await set_privacy(gql, friend, findByUsername="FRIENDS")
    results = (await search(gql, ann, "tom")).data["accountSearchQuery"]["results"]
    assert [(r["user"]["username"], r["isFriend"]) for r in results] == [("tomfriend", True), ("tomvisible", False)]
    # the hidden ones still find each other by default settings
    assert "tomvisible" in await names(gql, hidden, "tom")


async def test_search_pages_skip_hidden_users_without_duplicates(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    visible = []
    for i in range(12):
        user = await factories.account(services, f"page{i:02d}")
        if i % 3 == 1:
            await set_privacy(gql, user, findByUsername="NOBODY")
        else:
            visible.append(user.username)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = (await search(gql, ann, "page", limit=3, cursor=cursor)).data["accountSearchQuery"]
        assert len(page["results"]) <= 3
        seen += [r["user"]["username"] for r in page["results"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == visible


@pytest.mark.parametrize(
    ("query", "limit", "cursor"),
    [
        ("", 10, None),
        ("   ", 10, None),
        ("x" * 65, 10, None),
        ("tab\there", 10, None),
        ("ann", 0, None),
        ("ann", -1, None),
        ("ann", 51, None),
        ("ann", 10, "forged"),
        ("ann", 10, "WzFd"),
    ],
)
async def test_bad_search_input(
    services: Services, gql: GraphQLClient, query: str, limit: int, cursor: str | None
) -> None:
    ann = await factories.account(services, "ann")
    assert (await search(gql, ann, query, limit, cursor)).error_code == "BAD_USER_INPUT"


async def test_qrcodes_are_opaque_stable_and_refresh_invalidates(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    code = (await gql.data(QR_GET, token=bob.access_token))["userQrcodeGet"]["qrcode"]
    assert code["payload"] == "privchat://user/" + code["token"] and code["expiresAt"] is None
    assert len(code["token"]) >= 32
    assert (await gql.data(QR_GET, token=bob.access_token))["userQrcodeGet"]["qrcode"] == code
    assert (await gql.data(QR_GET, token=ann.access_token))["userQrcodeGet"]["qrcode"]["token"] != code["token"]
    resolved = (await call(gql, QR_RESOLVE, ann, c=code["payload"])).data["userQrcodeResolve"]
    assert resolved == {"user": {"id": uid(bob), "username": "bob"}, "isFriend": False}
    assert (await call(gql, BY_QR, ann, c=code["token"])).data["accountSearchByQrcode"] == resolved
    # The QRCODE source is proven by the scanned code itself, not claimed.
    assert (await apply(gql, ann, bob, source="QRCODE")).error_code == "NOT_FOUND"
    assert (await apply(gql, ann, bob, source="QRCODE", qr_token=code["token"] + "x")).error_code is not None
    assert (await apply(gql, ann, bob, source="QRCODE", qr_token=code["payload"])).error_code is None

    fresh = (await call(gql, QR_REFRESH, bob)).data["userQrcodeRefresh"]["qrcode"]
    assert fresh["token"] != code["token"]
    assert (await call(gql, QR_RESOLVE, ann, c=code["payload"])).error_code == "NOT_FOUND"
    assert (await call(gql, QR_RESOLVE, ann, c=fresh["payload"])).error_code is None


async def test_forged_expired_and_hidden_qrcodes(
    services: Services, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    forged = "privchat://user/" + "A" * 43
    not_found = await call(gql, QR_RESOLVE, ann, c=forged)
    assert not_found.error_code == "NOT_FOUND"
    for garbage in ("", "privchat://user/short", "https://evil.example/x", "A" * 65, "privchat://user/" + "!" * 40):
        assert (await call(gql, QR_RESOLVE, ann, c=garbage)).error_code == "BAD_USER_INPUT", garbage
    for ttl in (0, 59, -1, 400 * 24 * 3600):
        assert (await call(gql, QR_REFRESH, bob, t=ttl)).error_code == "BAD_USER_INPUT", ttl

    short = (await call(gql, QR_REFRESH, bob, t=60)).data["userQrcodeRefresh"]["qrcode"]
    assert short["expiresAt"] is not None
    assert (await call(gql, QR_RESOLVE, ann, c=short["payload"])).error_code is None
    import app.qrcodes.service as qr_service

    real_now = qr_service.now_ms
    monkeypatch.setattr(qr_service, "now_ms", lambda: real_now() + 61_000)
    expired = await call(gql, QR_RESOLVE, ann, c=short["payload"])
    assert expired.error_code == "NOT_FOUND" and expired.errors[0]["extensions"]["reason"] == "expired"
    renewed = (await gql.data(QR_GET, token=bob.access_token))["userQrcodeGet"]["qrcode"]
    assert renewed["token"] != short["token"] and renewed["expiresAt"] is not None  # same lifetime again
    assert (await call(gql, QR_RESOLVE, ann, c=renewed["payload"])).error_code is None
    monkeypatch.setattr(qr_service, "now_ms", real_now)

    await set_privacy(gql, bob, findByQrcode="NOBODY")
    hidden = await call(gql, QR_RESOLVE, ann, c=renewed["payload"])
    assert hidden.error_code == "NOT_FOUND" and hidden.errors[0]["message"] == not_found.errors[0]["message"]
    refused = await apply(gql, ann, bob, source="QRCODE", qr_token=renewed["token"])
    assert refused.error_code == "NOT_FOUND" and refused.errors[0]["message"] == "user not found"


async def test_a_shared_card_lets_the_receiver_apply(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    carol = await factories.account(services, "carol")
    await befriend(gql, ann, carol)
    await set_privacy(gql, carol, findByUsername="NOBODY", findByPhone="NOBODY", findByEmail="NOBODY")
    # without a card bob has no way to reach carol
    assert (await apply(gql, bob, carol, source="CARD")).error_code == "NOT_FOUND"
    assert (await apply(gql, bob, carol, source="SEARCH")).error_code == "NOT_FOUND"
    card = (await call(gql, SHARE, ann, u=uid(carol), to=uid(bob))).data["accountUserShareCard"]["card"]
    assert card["user"]["username"] == "carol" and card["toUserId"] == uid(bob)
    shared = [u for u in await social_updates(gql, bob) if u["__typename"] == "CardSharedEvent"]
    assert [(s["fromUser"]["username"], s["user"]["username"], s["cardId"]) for s in shared] == [
        ("ann", "carol", card["id"])
    ]
    applied = (await apply(gql, bob, carol, source="CARD")).data["contactFriendApply"]
    assert applied["outcome"] == "PENDING" and applied["request"]["source"] == "CARD"
    incoming = (await call(gql, CHECK, carol, u=uid(bob))).data["contactFriendCheck"]["incomingRequest"]
    assert incoming["source"] == "CARD"


async def test_share_card_refusals(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    hidden = await factories.account(services, "hidden")
    closed = await factories.account(services, "closed")
    await set_privacy(gql, hidden, findByUsername="NOBODY")
    await set_privacy(gql, closed, nonFriendsMayMessage=False)
    assert (await call(gql, SHARE, ann, u=uid(ann), to=uid(bob))).error_code is None  # one's own card
    assert (await call(gql, SHARE, ann, u=uid(bob), to=uid(ann))).error_code == "BAD_USER_INPUT"  # to yourself
    assert (await call(gql, SHARE, ann, u=uid(bob), to=uid(bob))).error_code == "BAD_USER_INPUT"
    assert (await call(gql, SHARE, ann, u=uid(hidden), to=uid(bob))).error_code == "NOT_FOUND"
    assert (await call(gql, SHARE, ann, u="424242", to=uid(bob))).error_code == "NOT_FOUND"
    assert (await call(gql, SHARE, ann, u=uid(bob), to="424242")).error_code == "NOT_FOUND"
    assert (await call(gql, SHARE, ann, u=uid(bob), to=uid(closed))).error_code == "FORBIDDEN"
    await call(gql, BLOCK, bob, u=uid(ann))
    assert (await call(gql, SHARE, ann, u=uid(ann), to=uid(bob))).error_code == "FORBIDDEN"
    assert [u for u in await social_updates(gql, closed) if u["__typename"] == "CardSharedEvent"] == []


CARD_SEND = """mutation($c: ID!, $id: String!, $u: ID!) {
  messageSend(input: {channelId: $c, clientMsgId: $id, content: {card: {userId: $u}}}) { message { id } } }"""


async def test_card_messages_follow_the_share_card_rules(services: Services, gql: GraphQLClient) -> None:
    """A card message is a share: the same rule as accountUserShareCard, the same answer,
    and a refused card opens no CARD source for its receiver."""
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    hidden = await factories.account(services, "hidden")
    blocker = await factories.account(services, "blocker")
    await befriend(gql, ann, bob)
    await befriend(gql, ann, blocker)  # even a friend's card is refused once they block you
    channel = await factories.direct_channel(services, ann, bob)
    await set_privacy(gql, hidden, findByUsername="NOBODY", findByPhone="NOBODY", findByEmail="NOBODY")
    await call(gql, BLOCK, blocker, u=uid(ann))
    for n, subject in enumerate((hidden, blocker)):
        shared = await call(gql, SHARE, ann, u=uid(subject), to=uid(bob))
        sent = await gql.execute(CARD_SEND, {"c": str(channel), "id": f"card-{n}", "u": uid(subject)}, token=ann.access_token)
        assert (shared.error_code, sent.error_code) == ("NOT_FOUND", "NOT_FOUND"), (shared.body, sent.body)
        assert shared.errors[0]["message"] == sent.errors[0]["message"]
        assert (await apply(gql, bob, subject, source="CARD")).error_code == "NOT_FOUND"
    # A card ann may share goes through both ways.
    assert (await call(gql, SHARE, ann, u=uid(ann), to=uid(bob))).error_code is None
    ok = await gql.execute(CARD_SEND, {"c": str(channel), "id": "card-ok", "u": uid(ann)}, token=ann.access_token)
    assert ok.error_code is None, ok.body


async def test_devices_asking_for_the_first_code_at_once_get_the_same_one(
    services: Services, gql: GraphQLClient
) -> None:
    await factories.register(services, "ann")
    phone = await factories.login(services, "ann", device_id="phone")
    laptop = await factories.login(services, "ann", device_id="laptop")
    first, second = await asyncio.gather(
        gql.data(QR_GET, token=phone.access_token), gql.data(QR_GET, token=laptop.access_token)
    )
    assert first == second
