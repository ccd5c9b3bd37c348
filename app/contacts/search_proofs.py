"""Search proofs: what a search result hands its searcher so that a later friend request
with source SEARCH (or PHONE) can show the server that this searcher found this user.

A proof is a signed statement "searcher S found user T by username / phone / email,
valid until E", carried by the client from `account/search/query` to
`contact/friend/apply` (`searchProof`), like a QR token is. It is stateless: an HMAC
over those four values with a key derived from the JWT secret, so a search (a read)
writes nothing, every process of one service accepts the proofs of the others, and
nothing needs cleaning up. What a signature cannot undo, the apply re-checks against
the present: app/contacts/policy.py admits a proof only for its own searcher and
target, before its expiry, while the target still lets the searcher find them that way.

Format (ASCII, at most MAX_PROOF_LENGTH): `sp1.<searcher>.<target>.<via>.<expires>.<mac>`
with ids and expiry (seconds since the epoch) in decimal, `via` one of `u p e`, and
`mac` the first 18 bytes of HMAC-SHA256, base64url without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from app.errors import bad_input
from app.privacy.settings import FindVia

VERSION = "sp1"
# Long enough to read a result list, open a profile and write a greeting; short enough
# that a proof is not a lasting capability (the target's settings are re-checked anyway).
PROOF_TTL_SECONDS = 15 * 60
MAX_PROOF_LENGTH = 128
MAC_BYTES = 18
VIA_CODES = {FindVia.USERNAME: "u", FindVia.PHONE: "p", FindVia.EMAIL: "e"}
CODE_VIAS = {code: via for via, code in VIA_CODES.items()}
PROOF_PATTERN = re.compile(
    rf"{VERSION}\.([0-9]{{1,19}})\.([0-9]{{1,19}})\.([upe])\.([0-9]{{1,12}})\.([A-Za-z0-9_-]{{24}})", re.ASCII
)


@dataclass(frozen=True, slots=True)
class SearchProof:
    """An authentic proof (its signature checked); whether it admits a request is the
    policy's decision (`app/contacts/policy.py search_proof_way`)."""

    searcher_id: int
    target_id: int
    via: FindVia
    expires_at: int  # seconds since the epoch


def check_proof_text(token: str | None) -> str | None:
    """Bound the untrusted string before anything else looks at it."""
    if token is None or token == "":
        return None
    if len(token) > MAX_PROOF_LENGTH or not token.isascii():
        raise bad_input("searchProof is not a search proof", field="searchProof")
    return token


class SearchProofs:
    def __init__(self, secret: str, *, ttl_seconds: int = PROOF_TTL_SECONDS) -> None:
        self._key = hmac.new(secret.encode(), b"privchat/search-proof/v1", hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds

    def _mac(self, searcher_id: int, target_id: int, via_code: str, expires_at: int) -> str:
        message = f"{VERSION}\n{searcher_id}\n{target_id}\n{via_code}\n{expires_at}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, *, searcher_id: int, target_id: int, via: FindVia, now: float | None = None) -> str:
        expires_at = int(now if now is not None else time.time()) + self.ttl_seconds
        code = VIA_CODES[via]
        mac = self._mac(searcher_id, target_id, code, expires_at)
        return f"{VERSION}.{searcher_id}.{target_id}.{code}.{expires_at}.{mac}"

    def read(self, token: str) -> SearchProof | None:
        """The proof a token states, if this server signed it; None for anything else
        (malformed, another version, a forged or altered signature)."""
        match = PROOF_PATTERN.fullmatch(token)
        if match is None:
            return None
        searcher, target, code, expires, mac = match.groups()
        expected = self._mac(int(searcher), int(target), code, int(expires))
        if not hmac.compare_digest(expected.encode(), mac.encode()):
            return None
        return SearchProof(int(searcher), int(target), CODE_VIAS[code], int(expires))
