"""Capabilities carried in URLs: upload tokens, tus upload keys and signed download links.

A stock tus client sends no Authorization header, so the URLs it is given carry their
own proof: an upload token (bound to the user, the file, its size and purpose; short
lived) in the creation URL, and an upload key (valid until the upload expires) in the
URL the creation answers with. Download links are signed for one user and one file; the
access rules are checked again when they are used. All are signed with a key derived
from the JWT secret, so they share its rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import jwt

from app.errors import AppError, ErrorCode

ALGORITHM = "HS256"
UPLOAD_TOKEN = "upload"
UPLOAD_KEY = "tus"


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """What a valid upload token or key grants."""

    file_id: str
    user_id: int
    size: int
    purpose: str
    expires_at: int  # seconds since the epoch


class FileTokens:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"privchat/files/v1", hashlib.sha256).digest()

    # -- upload tokens and keys -----------------------------------------------------------

    def issue(self, kind: str, grant: UploadGrant) -> str:
        payload = {
            "typ": kind,
            "fid": grant.file_id,
            "sub": str(grant.user_id),
            "size": grant.size,
            "pur": grant.purpose,
            "exp": grant.expires_at,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def check(self, kind: str, token: str, *, now: float | None = None) -> UploadGrant:
        """The grant of a token of `kind`; UNAUTHENTICATED when forged, of another kind or
        malformed, TOKEN_EXPIRED when expired."""
        if not token or len(token) > 2048:
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid upload token")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "typ", "fid", "sub"], "verify_exp": False},
            )
        except jwt.InvalidTokenError:
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid upload token") from None
        if claims.get("typ") != kind:
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid upload token")
        if int(claims["exp"]) <= (now if now is not None else time.time()):
            raise AppError(ErrorCode.TOKEN_EXPIRED, "the upload token has expired: request a new one")
        try:
            return UploadGrant(
                file_id=str(claims["fid"]),
                user_id=int(claims["sub"]),
                size=int(claims["size"]),
                purpose=str(claims["pur"]),
                expires_at=int(claims["exp"]),
            )
        except (KeyError, TypeError, ValueError):
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid upload token") from None

    # -- signed download links ------------------------------------------------------------

    def sign_download(self, file_id: str, user_id: int, expires_at: int) -> str:
        mac = hmac.new(self._key, f"dl\n{file_id}\n{user_id}\n{expires_at}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode().rstrip("=")

    def check_download(self, file_id: str, user: str, expires: str, signature: str, *, now: float) -> int:
        """The user a signed link was made for; UNAUTHENTICATED / TOKEN_EXPIRED otherwise."""
        if not (user.isdigit() and expires.isdigit() and len(user) <= 19 and len(expires) <= 12):
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid download link")
        expected = self.sign_download(file_id, int(user), int(expires))
        if not hmac.compare_digest(expected, signature):
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid download link")
        if int(expires) <= now:
            raise AppError(ErrorCode.TOKEN_EXPIRED, "the download link has expired")
        return int(user)
