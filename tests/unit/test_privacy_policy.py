"""The social policy as a table of cases: (settings, facts) -> decision. No I/O."""

from __future__ import annotations

import dataclasses

import pytest

from app.contacts.policy import (
    NO_PROOFS,
    ApplyVerdict,
    Facts,
    Proofs,
    admits,
    apply_verdict,
    may_add_to_group,
    may_find,
    may_message,
    may_see_presence,
    search_proof_way,
    shows_read_receipts,
    source_admitted,
)
from app.contacts.rules import FriendSource
from app.contacts.search_proofs import SearchProof
from app.privacy.settings import DEFAULTS, Audience, FindVia, PrivacySettings

A = Audience
STRANGER = Facts()
FRIEND = Facts(friends=True)
FOF = Facts(mutual_friend=True)
SELF = Facts(same_user=True)
BLOCKED_BY_TARGET = Facts(blocked_by_target=True)
BLOCKING_TARGET = Facts(blocking_target=True)
BLOCKED_FRIEND = Facts(friends=True, blocked_by_target=True)
FRIEND_I_BLOCKED = Facts(friends=True, blocking_target=True)


def settings(**changes: object) -> PrivacySettings:
    return dataclasses.replace(DEFAULTS, **changes)


@pytest.mark.parametrize(
    ("audience", "facts", "expected"),
    [
        (A.EVERYONE, STRANGER, True),
        (A.EVERYONE, FRIEND, True),
        (A.FRIENDS_OF_FRIENDS, STRANGER, False),
        (A.FRIENDS_OF_FRIENDS, FOF, True),
        (A.FRIENDS_OF_FRIENDS, FRIEND, True),
        (A.FRIENDS, FOF, False),
        (A.FRIENDS, FRIEND, True),
        (A.NOBODY, FRIEND, False),
        (A.NOBODY, SELF, True),
    ],
)
def test_audience_admits(audience: Audience, facts: Facts, expected: bool) -> None:
    assert admits(audience, facts) is expected


@pytest.mark.parametrize(
    ("case", "target", "facts", "via", "expected"),
    [
        ("defaults: anyone finds anyone", DEFAULTS, STRANGER, FindVia.USERNAME, True),
        ("who blocked you hides from you", DEFAULTS, BLOCKED_BY_TARGET, FindVia.USERNAME, False),
        ("...even from a friend's view", DEFAULTS, BLOCKED_FRIEND, FindVia.QRCODE, False),
        ("you may still find whom you blocked", DEFAULTS, BLOCKING_TARGET, FindVia.USERNAME, True),
        ("phone hidden", settings(find_by_phone=A.NOBODY), STRANGER, FindVia.PHONE, False),
        ("phone hidden, username open", settings(find_by_phone=A.NOBODY), STRANGER, FindVia.USERNAME, True),
        ("email for friends only: stranger", settings(find_by_email=A.FRIENDS), STRANGER, FindVia.EMAIL, False),
        ("email for friends only: friend", settings(find_by_email=A.FRIENDS), FRIEND, FindVia.EMAIL, True),
        ("qr for friends of friends: fof", settings(find_by_qrcode=A.FRIENDS_OF_FRIENDS), FOF, FindVia.QRCODE, True),
        (
            "qr for friends of friends: stranger",
            settings(find_by_qrcode=A.FRIENDS_OF_FRIENDS),
            STRANGER,
            FindVia.QRCODE,
            False,
        ),
        ("nobody still finds themself", settings(find_by_username=A.NOBODY), SELF, FindVia.USERNAME, True),
    ],
)
def test_may_find(case: str, target: PrivacySettings, facts: Facts, via: FindVia, expected: bool) -> None:
    assert may_find(target, facts, via) is expected, case


# What the server knows beyond settings and facts (app/contacts/policy.py `Proofs`).
BY_USERNAME = Proofs(found_via=FindVia.USERNAME)  # a search proof: found by username (or name)
BY_PHONE = Proofs(found_via=FindVia.PHONE)
BY_EMAIL = Proofs(found_via=FindVia.EMAIL)
SHARED_GROUP = Proofs(shares_group=True)
QR_TOKEN = Proofs(holds_qr_token=True)
U = ApplyVerdict.UNPROVEN


@pytest.mark.parametrize(
    ("case", "target", "facts", "source", "proofs", "expected"),
    [
        ("defaults need approval", DEFAULTS, STRANGER, FriendSource.SEARCH, BY_USERNAME, ApplyVerdict.NEEDS_APPROVAL),
        (
            "no approval: friends at once",
            settings(friend_approval=False),
            STRANGER,
            FriendSource.SEARCH,
            BY_USERNAME,
            ApplyVerdict.BEFRIEND,
        ),
        (
            "nobody may add",
            settings(add_friend=A.NOBODY),
            STRANGER,
            FriendSource.SEARCH,
            BY_USERNAME,
            ApplyVerdict.REFUSED,
        ),
        (
            "nobody may add, even fof",
            settings(add_friend=A.NOBODY),
            FOF,
            FriendSource.GROUP,
            SHARED_GROUP,
            ApplyVerdict.REFUSED,
        ),
        (
            "fof only: stranger",
            settings(add_friend=A.FRIENDS_OF_FRIENDS),
            STRANGER,
            FriendSource.SEARCH,
            BY_USERNAME,
            ApplyVerdict.REFUSED,
        ),
        (
            "fof only: fof",
            settings(add_friend=A.FRIENDS_OF_FRIENDS),
            FOF,
            FriendSource.SEARCH,
            BY_USERNAME,
            ApplyVerdict.NEEDS_APPROVAL,
        ),
        # Who blocked you hides from your searches: a proof made before the block proves nothing.
        ("blocked by the target, searched", DEFAULTS, BLOCKED_BY_TARGET, FriendSource.SEARCH, BY_USERNAME, U),
        (
            "blocked by the target, in a group",
            DEFAULTS,
            BLOCKED_BY_TARGET,
            FriendSource.GROUP,
            SHARED_GROUP,
            ApplyVerdict.REFUSED,
        ),
        ("blocking the target", DEFAULTS, BLOCKING_TARGET, FriendSource.SEARCH, BY_USERNAME, ApplyVerdict.REFUSED),
        ("already friends", DEFAULTS, FRIEND, FriendSource.SEARCH, BY_USERNAME, ApplyVerdict.REFUSED),
        ("yourself", DEFAULTS, SELF, FriendSource.SEARCH, BY_USERNAME, ApplyVerdict.REFUSED),
        (
            "blocked beats no-approval",
            settings(friend_approval=False),
            BLOCKED_BY_TARGET,
            FriendSource.GROUP,
            SHARED_GROUP,
            ApplyVerdict.REFUSED,
        ),
        # SEARCH: the search that found the target, by the way it found them, as the target allows now.
        ("search source without a proof", DEFAULTS, STRANGER, FriendSource.SEARCH, NO_PROOFS, U),
        (
            "unproven says nothing of add-friend",
            settings(add_friend=A.NOBODY),
            STRANGER,
            FriendSource.SEARCH,
            NO_PROOFS,
            U,
        ),
        (
            "search by phone, only phone open",
            settings(find_by_username=A.NOBODY, find_by_email=A.NOBODY),
            STRANGER,
            FriendSource.SEARCH,
            BY_PHONE,
            ApplyVerdict.NEEDS_APPROVAL,
        ),
        (
            "search by username, only phone open",
            settings(find_by_username=A.NOBODY, find_by_email=A.NOBODY),
            STRANGER,
            FriendSource.SEARCH,
            BY_USERNAME,
            U,
        ),
        (
            "search by email, email since for friends",
            settings(find_by_email=A.FRIENDS),
            STRANGER,
            FriendSource.SEARCH,
            BY_EMAIL,
            U,
        ),
        (
            "search by email, email for friends: fof",
            settings(find_by_email=A.FRIENDS),
            FOF,
            FriendSource.SEARCH,
            BY_EMAIL,
            U,
        ),
        (
            "search, all hidden",
            settings(find_by_username=A.NOBODY, find_by_email=A.NOBODY, find_by_phone=A.NOBODY),
            STRANGER,
            FriendSource.SEARCH,
            BY_PHONE,
            U,
        ),
        # PHONE: a search by phone number, and the phone audience.
        ("phone source, found by phone", DEFAULTS, STRANGER, FriendSource.PHONE, BY_PHONE, ApplyVerdict.NEEDS_APPROVAL),
        ("phone source, found by username", DEFAULTS, STRANGER, FriendSource.PHONE, BY_USERNAME, U),
        ("phone source without a proof", DEFAULTS, STRANGER, FriendSource.PHONE, NO_PROOFS, U),
        ("phone source, phone hidden", settings(find_by_phone=A.NOBODY), STRANGER, FriendSource.PHONE, BY_PHONE, U),
        ("card source without a card", DEFAULTS, STRANGER, FriendSource.CARD, NO_PROOFS, U),
        ("card source with a search proof", DEFAULTS, STRANGER, FriendSource.CARD, BY_USERNAME, U),
        (
            "group source without a shared group",
            settings(find_by_username=A.NOBODY),
            STRANGER,
            FriendSource.GROUP,
            NO_PROOFS,
            U,
        ),
        (
            "group source, sharing a group",
            settings(find_by_username=A.NOBODY),
            STRANGER,
            FriendSource.GROUP,
            SHARED_GROUP,
            ApplyVerdict.NEEDS_APPROVAL,
        ),
        ("qr source without the code", DEFAULTS, STRANGER, FriendSource.QRCODE, NO_PROOFS, U),
        ("qr source with the code", DEFAULTS, STRANGER, FriendSource.QRCODE, QR_TOKEN, ApplyVerdict.NEEDS_APPROVAL),
        ("qr source, qr hidden", settings(find_by_qrcode=A.NOBODY), STRANGER, FriendSource.QRCODE, QR_TOKEN, U),
        ("admin is not a client source", DEFAULTS, STRANGER, FriendSource.ADMIN, BY_USERNAME, U),
        (
            "no source given: privacy only",
            settings(find_by_username=A.NOBODY),
            STRANGER,
            None,
            NO_PROOFS,
            ApplyVerdict.NEEDS_APPROVAL,
        ),
    ],
)
def test_apply_verdict(
    case: str,
    target: PrivacySettings,
    facts: Facts,
    source: FriendSource | None,
    proofs: Proofs,
    expected: ApplyVerdict,
) -> None:
    assert apply_verdict(target, facts, source, proofs) is expected, case


PROOF = SearchProof(searcher_id=7, target_id=9, via=FindVia.EMAIL, expires_at=1_000)


@pytest.mark.parametrize(
    ("case", "proof", "actor", "target", "now", "expected"),
    [
        ("the searcher's own, for its target, in time", PROOF, 7, 9, 999, FindVia.EMAIL),
        ("no proof", None, 7, 9, 999, None),
        ("another searcher's proof", PROOF, 8, 9, 999, None),
        ("a proof about another user", PROOF, 7, 10, 999, None),
        ("the searcher's proof, ids swapped", PROOF, 9, 7, 999, None),
        ("expired at its expiry", PROOF, 7, 9, 1_000, None),
        ("expired", PROOF, 7, 9, 5_000, None),
    ],
)
def test_search_proof_way(
    case: str, proof: SearchProof | None, actor: int, target: int, now: int, expected: FindVia | None
) -> None:
    assert search_proof_way(proof, actor_id=actor, target_id=target, now=now) is expected, case


def test_a_shared_card_opens_the_card_source_even_when_hidden() -> None:
    hidden = settings(
        find_by_username=A.NOBODY, find_by_phone=A.NOBODY, find_by_email=A.NOBODY, find_by_qrcode=A.NOBODY
    )
    card = Proofs(has_card=True)
    assert source_admitted(hidden, STRANGER, FriendSource.CARD, card)
    assert apply_verdict(hidden, STRANGER, FriendSource.CARD, card) is ApplyVerdict.NEEDS_APPROVAL
    assert apply_verdict(settings(add_friend=A.NOBODY), STRANGER, FriendSource.CARD, card) is ApplyVerdict.REFUSED


@pytest.mark.parametrize(
    ("case", "target", "facts", "expected"),
    [
        ("defaults: strangers may message", DEFAULTS, STRANGER, True),
        ("non-friends closed: stranger", settings(non_friends_may_message=False), STRANGER, False),
        ("non-friends closed: fof is still not a friend", settings(non_friends_may_message=False), FOF, False),
        ("non-friends closed: friend", settings(non_friends_may_message=False), FRIEND, True),
        ("the target blocked the sender", DEFAULTS, BLOCKED_BY_TARGET, False),
        ("the sender blocked the target", DEFAULTS, BLOCKING_TARGET, False),
        ("a friend who blocked you", DEFAULTS, BLOCKED_FRIEND, False),
        ("a friend you blocked", DEFAULTS, FRIEND_I_BLOCKED, False),
        ("yourself", settings(non_friends_may_message=False), SELF, True),
    ],
)
def test_may_message(case: str, target: PrivacySettings, facts: Facts, expected: bool) -> None:
    assert may_message(target, facts) is expected, case


@pytest.mark.parametrize(
    ("case", "target", "facts", "expected"),
    [
        ("defaults: anyone", DEFAULTS, STRANGER, True),
        ("friends only: stranger", settings(add_to_group=A.FRIENDS), STRANGER, False),
        ("friends only: friend", settings(add_to_group=A.FRIENDS), FRIEND, True),
        ("nobody: friend", settings(add_to_group=A.NOBODY), FRIEND, False),
        ("fof: fof", settings(add_to_group=A.FRIENDS_OF_FRIENDS), FOF, True),
        ("blocked either way", DEFAULTS, BLOCKING_TARGET, False),
        ("blocked by target", settings(add_to_group=A.EVERYONE), BLOCKED_BY_TARGET, False),
    ],
)
def test_may_add_to_group(case: str, target: PrivacySettings, facts: Facts, expected: bool) -> None:
    assert may_add_to_group(target, facts) is expected, case


@pytest.mark.parametrize(
    ("case", "target", "facts", "expected"),
    [
        ("defaults: everyone sees", DEFAULTS, STRANGER, True),
        ("who blocked you hides their presence", DEFAULTS, BLOCKED_FRIEND, False),
        ("friends only: stranger", settings(show_online=A.FRIENDS), STRANGER, False),
        ("friends only: friend", settings(show_online=A.FRIENDS), FRIEND, True),
        ("nobody: friend", settings(show_online=A.NOBODY), FRIEND, False),
        ("nobody: yourself", settings(show_online=A.NOBODY), SELF, True),
    ],
)
def test_may_see_presence(case: str, target: PrivacySettings, facts: Facts, expected: bool) -> None:
    assert may_see_presence(target, facts) is expected, case


def test_read_receipts_follow_the_setting() -> None:
    assert shows_read_receipts(DEFAULTS) is True
    assert shows_read_receipts(settings(show_read_receipts=False)) is False
