"""Access tokens verified once per process are still refused once they expire."""

from __future__ import annotations

import pytest

from app import security
from app.errors import AppError
from app.security import TokenService


def test_a_remembered_token_expires_like_any_other(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = TokenService(secret="s" * 40, access_ttl_seconds=60, refresh_ttl_seconds=600)
    token = tokens.issue_access(user_id=7, session_id=9, device_id="d")
    assert tokens.decode_access(token).session_id == 9
    assert tokens.decode_access(token).user_id == 7  # served from memory
    later = security.now_ms() + 61_000
    monkeypatch.setattr(security, "now_ms", lambda: later)
    with pytest.raises(AppError) as refused:
        tokens.decode_access(token)
    assert refused.value.code.value == "TOKEN_EXPIRED"


def test_memory_of_verified_tokens_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "VERIFIED_TOKENS_KEPT", 10)
    tokens = TokenService(secret="s" * 40, access_ttl_seconds=60, refresh_ttl_seconds=600)
    for i in range(25):
        tokens.decode_access(tokens.issue_access(user_id=i, session_id=i, device_id="d"))
    assert len(tokens._verified) <= 10


def test_a_forged_token_is_never_remembered() -> None:
    tokens = TokenService(secret="s" * 40, access_ttl_seconds=60, refresh_ttl_seconds=600)
    other = TokenService(secret="t" * 40, access_ttl_seconds=60, refresh_ttl_seconds=600)
    forged = other.issue_access(user_id=1, session_id=1, device_id="d")
    for _ in range(2):
        with pytest.raises(AppError):
            tokens.decode_access(forged)
    assert forged not in tokens._verified
