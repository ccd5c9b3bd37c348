"""Search proofs (app/contacts/search_proofs.py): what a signature vouches for, no I/O. Whether
a proof admits a request (searcher, target, expiry, settings) is the policy's table
(tests/unit/test_privacy_policy.py)."""

from __future__ import annotations

import pytest

from app.contacts.search_proofs import (
    MAX_PROOF_LENGTH,
    PROOF_TTL_SECONDS,
    SearchProof,
    SearchProofs,
    check_proof_text,
)
from app.errors import AppError
from app.privacy.settings import FindVia

SECRET = "s" * 48
NOW = 1_800_000_000


@pytest.mark.parametrize("via", [FindVia.USERNAME, FindVia.PHONE, FindVia.EMAIL])
def test_a_proof_states_who_found_whom_how_and_until_when(via: FindVia) -> None:
    proofs = SearchProofs(SECRET)
    token = proofs.issue(searcher_id=12, target_id=3_000_000_000_000, via=via, now=NOW)
    assert len(token) <= MAX_PROOF_LENGTH
    assert proofs.read(token) == SearchProof(12, 3_000_000_000_000, via, NOW + PROOF_TTL_SECONDS)
    # Another process of the same service (same secret) accepts it.
    assert SearchProofs(SECRET).read(token) == proofs.read(token)


def altered(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def test_a_changed_field_or_signature_is_no_proof() -> None:
    proofs = SearchProofs(SECRET)
    token = proofs.issue(searcher_id=12, target_id=34, via=FindVia.USERNAME, now=NOW)
    mac = token.rsplit(".", 1)[1]
    forged = [
        altered(token, 1, "13"),  # another searcher
        altered(token, 2, "35"),  # another target
        altered(token, 3, "p"),  # another way of finding
        altered(token, 4, str(NOW + 10 * PROOF_TTL_SECONDS)),  # a later expiry
        altered(token, 5, ("B" if mac[0] == "A" else "A") + mac[1:]),  # a signature off by one character
        altered(token, 0, "sp2"),
        token + "A",
        token[:-1],
        token.replace(".", ":"),
        "",
        "sp1.12.34.u.1800000900",
        "sp1.١٢.34.u.1800000900." + mac,  # digits of another script
        " " + token,
        token + "\n",  # a full match, not a match before a trailing newline
    ]
    for text in forged:
        assert proofs.read(text) is None, text
    # Signed with another secret (another server, or before a rotation).
    assert SearchProofs("t" * 48).read(token) is None
    assert proofs.read(token) is not None


def test_the_proof_text_is_bounded_before_it_is_read() -> None:
    assert check_proof_text(None) is None
    assert check_proof_text("") is None
    assert check_proof_text("sp1.x") == "sp1.x"  # well-bounded: the signature check says it is no proof
    for bad in ("x" * (MAX_PROOF_LENGTH + 1), "sp1.é"):
        with pytest.raises(AppError) as raised:
            check_proof_text(bad)
        assert raised.value.code.value == "BAD_USER_INPUT"
