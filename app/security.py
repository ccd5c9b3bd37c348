"""Passwords (argon2id), access JWTs (HS256) and opaque refresh tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type

from app.config import DEFAULT_DEV_SECRET_MARKER, Settings
from app.db.types import now_ms
from app.errors import AppError, ErrorCode

MIN_SECRET_BYTES = 32
# Verified access tokens remembered per process: a device presents the same token on
# every call until it refreshes, and checking its signature again each time is waste.
VERIFIED_TOKENS_KEPT = 10_000
JWT_ALGORITHM = "HS256"
ISSUER = "privchat"


class InsecureSecretError(RuntimeError):
    """Refusal to start: the JWT secret is missing, too short or a placeholder."""


def resolve_jwt_secret(settings: Settings) -> str:
    """The configured secret; in dev mode a random one persisted in the data dir."""
    if settings.security.jwt_secret is not None:
        secret = settings.security.jwt_secret.get_secret_value()
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise InsecureSecretError(
                f"security.jwt_secret (PRIVCHAT_JWT_SECRET) must be at least {MIN_SECRET_BYTES} bytes"
            )
        if DEFAULT_DEV_SECRET_MARKER in secret.lower() and not settings.dev:
            raise InsecureSecretError("security.jwt_secret is the example placeholder; set a real secret")
        return secret
    if not settings.dev:
        raise InsecureSecretError(
            "no JWT secret: set PRIVCHAT_JWT_SECRET (>= 32 bytes), or run with --dev to generate one"
        )
    path = Path(settings.data_dir) / "dev-jwt-secret"
    if path.is_file():
        existing = path.read_text().strip()
        if len(existing.encode()) >= MIN_SECRET_BYTES:
            return existing
        # An empty or truncated file (e.g. a disk filled up) must not become the secret.
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


class PasswordHashing:
    """argon2id; hashing runs in a worker thread so the event loop keeps serving."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID)
        # A fixed hash to verify against when the user does not exist, so that timing
        # does not reveal which usernames are registered.
        self._dummy = self._hasher.hash(secrets.token_hex(8))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: int
    device_id: str
    expires_at: int


class TokenService:
    def __init__(self, *, secret: str, access_ttl_seconds: int, refresh_ttl_seconds: int) -> None:
        self._secret = secret
        self.access_ttl_seconds = access_ttl_seconds
        self.refresh_ttl_seconds = refresh_ttl_seconds
        self._verified: dict[str, AccessClaims] = {}

    def issue_access(self, *, user_id: int, session_id: int, device_id: str) -> str:
        now = now_ms() // 1000
        payload = {
            "iss": ISSUER,
            "sub": str(user_id),
            "sid": session_id,
            "did": device_id,
            "typ": "access",
            "iat": now,
            "exp": now + self.access_ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._secret, algorithm=JWT_ALGORITHM)

    def decode_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token (signature, issuer, type and expiry checked).
        A token verified before is only checked for expiry; whether its session is still
        live is the caller's check, made on every call."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims.expires_at <= now_ms() // 1000:
                del self._verified[token]
                raise AppError(ErrorCode.TOKEN_EXPIRED, "access token expired")
            return claims
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            # Forget the oldest half (dicts keep insertion order): bounded memory.
            for old in list(self._verified)[: VERIFIED_TOKENS_KEPT // 2]:
                del self._verified[old]
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            # Only HS256 is accepted: "alg": "none" or RS/HS confusion fails here.
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "typ"]},
            )
        except jwt.ExpiredSignatureError:
            raise AppError(ErrorCode.TOKEN_EXPIRED, "access token expired") from None
        except jwt.PyJWTError:
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid access token") from None
        if payload.get("typ") != "access":
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid access token")
        try:
            return AccessClaims(
                user_id=int(payload["sub"]),
                session_id=int(payload["sid"]),
                device_id=str(payload.get("did", "")),
                expires_at=int(payload["exp"]),
            )
        except (TypeError, ValueError):
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid access token") from None

    @staticmethod
    def new_refresh_token() -> str:
        return "rt_" + secrets.token_urlsafe(32)

    @staticmethod
    def hash_refresh_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
