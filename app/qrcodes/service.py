"""user/qrcode/get|refresh|resolve and account/search/by_qrcode.

A code is `privchat://user/<token>` where the token is 32 random bytes (base64url): it
says nothing about the user and cannot be guessed. Resolving a code someone may not use
(unknown token, refreshed away, or its owner hides from the viewer) is one NOT_FOUND; an
expired code says so (`reason: expired`), so the app can ask for a fresh one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from app.accounts import store as account_store
from app.accounts.tables import User
from app.contacts import store as contact_store
from app.contacts.policy import SocialPolicy
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input
from app.principal import Principal
from app.privacy.settings import FindVia
from app.qrcodes import store
from app.qrcodes.tables import UserQrCode

PAYLOAD_PREFIX = "privchat://user/"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}\Z")
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class QrCode:
    token: str
    created_at: int
    expires_at: int | None

    @property
    def payload(self) -> str:
        return PAYLOAD_PREFIX + self.token


@dataclass(frozen=True, slots=True)
class Resolved:
    user: User
    is_friend: bool


def parse_code(code: str) -> str:
    """The token of a scanned payload (or of a bare token)."""
    code = code.strip()
    token = code[len(PAYLOAD_PREFIX) :] if code.startswith(PAYLOAD_PREFIX) else code
    if not TOKEN_RE.match(token):
        raise bad_input("not a PrivChat user QR code", field="qrcode")
    return token


def check_ttl(ttl_seconds: int | None) -> int | None:
    if ttl_seconds is None:
        return None
    if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise bad_input(f"expiresInSeconds must be {MIN_TTL_SECONDS}..{MAX_TTL_SECONDS}", field="expiresInSeconds")
    return ttl_seconds


def _new_code(user_id: int, ttl_seconds: int | None, now: int) -> UserQrCode:
    return UserQrCode(
        user_id=user_id,
        token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + ttl_seconds * 1000 if ttl_seconds else None,
        ttl_seconds=ttl_seconds,
    )


def _view(row: UserQrCode) -> QrCode:
    return QrCode(token=row.token, created_at=row.created_at, expires_at=row.expires_at)


class QrCodeService:
    def __init__(self, *, db: Database, policy: SocialPolicy) -> None:
        self.db = db
        self.policy = policy

    async def get(self, principal: Principal) -> QrCode:
        """The caller's current code; made on first use, renewed (same lifetime) once expired."""
        user_id = principal.user_id
        now = now_ms()
        async with self.db.transaction() as tx:
            row = await store.get_for_user(tx.session, user_id)
            if row is None:
                await store.insert_if_missing(tx.session, _new_code(user_id, None, now))
            elif row.expires_at is not None and row.expires_at <= now:
                await store.replace(tx.session, _new_code(user_id, row.ttl_seconds, now), only_token=row.token)
            current = await store.get_for_user(tx.session, user_id)
        assert current is not None
        return _view(current)

    async def refresh(self, principal: Principal, *, ttl_seconds: int | None) -> QrCode:
        """A new code; the previous one stops resolving at once."""
        ttl = check_ttl(ttl_seconds)
        async with self.db.transaction() as tx:
            await store.replace(tx.session, _new_code(principal.user_id, ttl, now_ms()))
            current = await store.get_for_user(tx.session, principal.user_id)
        assert current is not None
        return _view(current)

    async def resolve(self, principal: Principal, code: str) -> Resolved:
        token = parse_code(code)
        async with self.db.read() as session:
            row = await store.get_by_token(session, token)
            if row is None:
                raise AppError(ErrorCode.NOT_FOUND, "QR code not found")
            if row.expires_at is not None and row.expires_at <= now_ms():
                raise AppError(ErrorCode.NOT_FOUND, "this QR code has expired", reason="expired")
            user = await account_store.get_user(session, row.user_id)
            if (
                user is None
                or user.disabled
                or not await self.policy.may_find(session, principal.user_id, row.user_id, FindVia.QRCODE)
            ):
                raise AppError(ErrorCode.NOT_FOUND, "QR code not found")
            friend = await contact_store.are_friends(session, principal.user_id, row.user_id)
        return Resolved(user=user, is_friend=friend)
