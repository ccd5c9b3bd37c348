"""Device sessions: issuing tokens, refresh rotation, revocation and kicks.

A revocation is a user update (seq) stored with it: after commit every node hears of
it and closes the live connections of that session; the per-call session check makes
the revocation effective on the very next request even if that hint were lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.accounts.rules import check_device_name
from app.accounts.tables import User
from app.db import Database, Transaction
from app.db.batch import Batcher
from app.db.types import now_ms
from app.devices import store
from app.devices.tables import DeviceSession, RefreshToken
from app.errors import AppError, ErrorCode, not_found
from app.principal import Principal
from app.security import TokenService
from app.sync.updates import UserUpdates

TOUCH_INTERVAL_MS = 60_000


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session: DeviceSession


class DeviceService:
    def __init__(self, *, db: Database, updates: UserUpdates, tokens: TokenService) -> None:
        self.db = db
        self.updates = updates
        self.tokens = tokens
        # Concurrent calls are authenticated together (PostgreSQL): one statement for all.
        self._checks: Batcher[int, store.SessionCheck | None] = Batcher(
            self._check_batch, name="session_check", observe=db.batch_observer, max_size=128, max_in_flight=2
        )

    # -- issuing ------------------------------------------------------------------------

    async def open_session(
        self,
        tx: Transaction,
        user: User,
        *,
        device_id: str,
        device_name: str,
        platform: str,
        ip: str | None,
    ) -> IssuedTokens:
        """Create a session for a device inside the caller's transaction. A new login from
        a device id that already has a live session replaces that session."""
        assert user.id is not None
        now = now_ms()
        previous = [s.id for s in await store.live_sessions(tx.session, user.id) if s.device_id == device_id]
        replaced = await store.revoke_sessions(
            tx.session, user.id, [i for i in previous if i is not None], reason="replaced", at=now
        )
        if replaced:
            await self._announce(tx, user.id, replaced, "replaced")
        row = await store.insert_session(
            tx.session,
            DeviceSession(
                user_id=user.id,
                device_id=device_id,
                device_name=device_name,
                platform=platform,
                ip=ip,
                created_at=now,
                last_active_at=now,
            ),
        )
        return await self._issue(tx, user.id, row, now)

    async def _issue(self, tx: Transaction, user_id: int, row: DeviceSession, now: int) -> IssuedTokens:
        assert row.id is not None
        refresh = self.tokens.new_refresh_token()
        await store.insert_refresh_token(
            tx.session,
            RefreshToken(
                token_hash=self.tokens.hash_refresh_token(refresh),
                session_id=row.id,
                issued_at=now,
                expires_at=now + self.tokens.refresh_ttl_seconds * 1000,
            ),
        )
        access = self.tokens.issue_access(user_id=user_id, session_id=row.id, device_id=row.device_id)
        return IssuedTokens(access, refresh, self.tokens.access_ttl_seconds, row)

    # -- checking -----------------------------------------------------------------------

    async def authenticate(self, access_token: str) -> Principal:
        claims = self.tokens.decode_access(access_token)
        if self.db.is_sqlite:  # local, no round trip to save
            row = (await self._check_batch([claims.session_id]))[0]
        else:
            row = await self._checks(claims.session_id)
        if row is None or row.user_id != claims.user_id:
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid access token")
        if row.revoked_at is not None:
            raise AppError(ErrorCode.SESSION_REVOKED, f"this device session was {row.revoke_reason or 'revoked'}")
        if row.disabled:
            raise AppError(ErrorCode.FORBIDDEN, "account disabled")
        return Principal(
            user_id=row.user_id, session_id=claims.session_id, device_id=row.device_id, is_admin=row.is_admin
        )

    async def close(self) -> None:
        """Let the session checks in flight finish (before the database closes)."""
        await self._checks.close()

    async def _check_batch(self, session_ids: Sequence[int]) -> list[store.SessionCheck | None]:
        now = now_ms()
        return await store.check_sessions(self.db, session_ids, now=now, touch_before=now - TOUCH_INTERVAL_MS)

    # -- refresh ------------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Rotate a refresh token. Presenting an already-rotated token revokes the session:
        one of the two holders is not the user."""
        token_hash = self.tokens.hash_refresh_token(refresh_token)
        now = now_ms()
        async with self.db.transaction() as tx:
            row = await store.get_refresh_token(tx.session, token_hash)
            if row is None:
                raise AppError(ErrorCode.UNAUTHENTICATED, "invalid refresh token")
            device = await store.get_session(tx.session, row.session_id)
            if device is None or device.revoked_at is not None:
                raise AppError(ErrorCode.SESSION_REVOKED, "this device session was revoked")
            if row.expires_at <= now:
                raise AppError(ErrorCode.TOKEN_EXPIRED, "refresh token expired")
            if await store.mark_refresh_rotated(tx.session, token_hash, now):
                await store.touch_session(tx.session, device.id or 0, now)
                return await self._issue(tx, device.user_id, device, now)
            revoked = await store.revoke_sessions(
                tx.session, device.user_id, [row.session_id], reason="refresh_reused", at=now
            )
            if revoked:
                await self._announce(tx, device.user_id, revoked, "refresh_reused")
        raise AppError(ErrorCode.SESSION_REVOKED, "refresh token reused; the device session was revoked")

    # -- managing -----------------------------------------------------------------------

    async def list_sessions(self, principal: Principal) -> list[DeviceSession]:
        async with self.db.read() as session:
            return list(await store.live_sessions(session, principal.user_id))

    async def logout(self, principal: Principal) -> None:
        await self._revoke(principal.user_id, [principal.session_id], "logged_out")

    async def revoke(self, principal: Principal, device_id: str, *, reason: str = "revoked") -> int:
        ids = await self._sessions_of_device(principal, device_id)
        return len(await self._revoke(principal.user_id, ids, reason))

    async def revoke_all(self, principal: Principal, *, keep_current: bool, reason: str) -> int:
        async with self.db.read() as session:
            rows = await store.live_sessions(session, principal.user_id)
        ids = [r.id for r in rows if r.id is not None and not (keep_current and r.id == principal.session_id)]
        return len(await self._revoke(principal.user_id, ids, reason))

    async def rename(self, principal: Principal, device_id: str, name: str) -> DeviceSession:
        name = check_device_name(name)
        ids = await self._sessions_of_device(principal, device_id)
        async with self.db.transaction() as tx:
            for session_id in ids:
                await store.rename_session(tx.session, session_id, name)
            row = await store.get_session(tx.session, ids[0])
        assert row is not None
        return row

    async def sessions_of(self, user_id: int) -> list[DeviceSession]:
        """A user's live device sessions, most recently active first (admin views)."""
        async with self.db.read() as session:
            return list(await store.live_sessions(session, user_id))

    async def revoke_of_user(self, user_id: int, *, device_id: str | None, reason: str) -> int:
        """Revoke a user's sessions (of one device, or all): their connections close at once."""
        rows = await self.sessions_of(user_id)
        ids = [r.id for r in rows if r.id is not None and (device_id is None or r.device_id == device_id)]
        if device_id is not None and not ids:
            raise not_found("device")
        return len(await self._revoke(user_id, ids, reason))

    async def _sessions_of_device(self, principal: Principal, device_id: str) -> list[int]:
        async with self.db.read() as session:
            rows = await store.live_sessions(session, principal.user_id)
        ids = [r.id for r in rows if r.device_id == device_id and r.id is not None]
        if not ids:
            raise not_found("device")
        return ids

    async def _revoke(self, user_id: int, session_ids: list[int], reason: str) -> list[tuple[int, str]]:
        async with self.db.transaction() as tx:
            revoked = await store.revoke_sessions(tx.session, user_id, session_ids, reason=reason, at=now_ms())
            if revoked:
                await self._announce(tx, user_id, revoked, reason)
        return revoked

    async def _announce(self, tx: Transaction, user_id: int, revoked: list[tuple[int, str]], reason: str) -> None:
        """A user update: every device of the user learns it (live, or through sync), and
        the connections of the revoked sessions close."""
        await self.updates.append(
            tx,
            user_id,
            "session_revoked",
            {"sessionIds": [s for s, _ in revoked], "deviceIds": sorted({d for _, d in revoked}), "reason": reason},
        )
