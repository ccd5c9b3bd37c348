"""admin/user/*: look up, change, disable, delete users; their sessions, roles and passwords.

Callers are authorised by the registry (admin audience); these methods trust that and act.

Account deletion policy (docs/OPERATIONS.md): personal data is erased (username becomes
`deleted_<id>`, display name "Deleted account", email, phone, bio and avatar cleared, password
unusable, IP and user agent removed from the login log), every message the user sent is
erased like a revoke (content gone, a revoke event per message so every device drops it),
every session is revoked. Kept for integrity: the user row and its id (messages, channels,
friendships and group memberships refer to it), the login log's times and outcomes, and the
audit log. Friends keep the entry and see a deleted account.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import rules
from app.accounts import store as account_store
from app.accounts.service import AccountService
from app.accounts.tables import LoginLog, User
from app.admin import store as admin_store
from app.admin.tables import PasswordReset
from app.config import Settings
from app.contacts.views import Page
from app.db import Database
from app.db.types import now_ms
from app.devices.service import DeviceService
from app.devices.tables import DeviceSession
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.messaging.service import MessagingService
from app.paging import check_limit, decode_ints, encode
from app.security import PasswordHashing

log = logging.getLogger(__name__)

RESET_TTL_MS = 24 * 3600 * 1000
DELETED_NAME = "Deleted account"
UNUSABLE_PASSWORD = "!"  # not an argon2 hash: no password ever verifies


@dataclass(frozen=True, slots=True)
class UserChanges:
    display_name: str | None = None
    email: str | None = None  # "" clears
    phone: str | None = None  # "" clears
    bio: str | None = None  # "" clears


@dataclass(frozen=True, slots=True)
class LoginLogQuery:
    user_id: int | None = None
    ip: str | None = None
    success: bool | None = None
    since_ms: int | None = None
    until_ms: int | None = None


class AdminUsers:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        accounts: AccountService,
        devices: DeviceService,
        messaging: MessagingService,
        passwords: PasswordHashing,
    ) -> None:
        self.settings = settings
        self.db = db
        self.accounts = accounts
        self.devices = devices
        self.messaging = messaging
        self.passwords = passwords

    async def get(self, user_id: int) -> User:
        """Any user, disabled and deleted ones included."""
        async with self.db.read() as session:
            user = await account_store.get_user(session, user_id)
        if user is None:
            raise not_found("user")
        return user

    async def update(self, user_id: int, changes: UserChanges) -> User:
        values: dict[str, object] = {}
        if changes.display_name is not None:
            values["display_name"] = rules.check_display_name(changes.display_name)
        if changes.email is not None:
            values["email"] = rules.check_email(changes.email.strip() or None)
        if changes.phone is not None:
            values["phone"] = rules.check_phone(changes.phone.strip() or None)
        if changes.bio is not None:
            values["bio"] = rules.check_text(changes.bio, field="bio", max_length=500) or None
        async with self.db.transaction() as tx:
            await self._live(tx.session, user_id)
            # Through the account service: friends and group members see the change live.
            return await self.accounts.change_in(tx, user_id, values)

    async def set_disabled(self, user_id: int, disabled: bool) -> User:
        """Disabling refuses logins and ends every session at once (live connections close)."""
        async with self.db.transaction() as tx:
            user = await self._live(tx.session, user_id)
            if disabled and user.is_admin:
                await self._check_not_last_admin(tx.session, user_id)
            await account_store.update_user(tx.session, user_id, {"disabled": disabled})
            await tx.session.refresh(user)
        if disabled:
            await self.devices.revoke_of_user(user_id, device_id=None, reason="account_disabled")
        log.info("admin %s user %s", "disabled" if disabled else "enabled", user_id)
        return user

    async def set_role(self, user_id: int, *, is_admin: bool) -> User:
        async with self.db.transaction() as tx:
            user = await self._live(tx.session, user_id)
            if user.is_admin and not is_admin:
                await self._check_not_last_admin(tx.session, user_id)
            await account_store.update_user(tx.session, user_id, {"is_admin": is_admin})
            await tx.session.refresh(user)
        return user

    async def logout_all(self, user_id: int) -> int:
        await self.get(user_id)
        return await self.devices.revoke_of_user(user_id, device_id=None, reason="logged_out_by_admin")

    async def devices_of(self, user_id: int) -> list[DeviceSession]:
        await self.get(user_id)
        return await self.devices.sessions_of(user_id)

    async def revoke_device(self, user_id: int, device_id: str) -> int:
        await self.get(user_id)
        return await self.devices.revoke_of_user(user_id, device_id=device_id, reason="revoked_by_admin")

    async def delete(self, user_id: int, *, actor_id: int) -> User:
        """Erase a user's personal data and content (the policy in this module's docstring).
        Deleting a deleted account again finishes what a crash may have left (erasure is idempotent)."""
        async with self.db.transaction() as tx:
            user = await account_store.get_user(tx.session, user_id)
            if user is None:
                raise not_found("user")
            values: dict[str, object] = {}
            if user.deleted_at is None:
                if user.is_admin:
                    await self._check_not_last_admin(tx.session, user_id)
                placeholder = f"deleted_{user_id}"
                values = {
                    "username": placeholder,
                    "username_key": placeholder,
                    "display_name": DELETED_NAME,
                    "email": None,
                    "phone": None,
                    "bio": None,
                    "password_hash": UNUSABLE_PASSWORD,
                    "disabled": True,
                    "is_admin": False,
                    "deleted_at": now_ms(),
                }
            # The avatar goes too ("" removes it); friends and group members see
            # "Deleted account" live.
            await self.accounts.change_in(tx, user_id, values, avatar_file_id="")
            await account_store.erase_login_details(tx.session, user_id)
        await self.devices.revoke_of_user(user_id, device_id=None, reason="account_deleted")
        erased = await self.messaging.erase_all_of(user_id, actor_id=actor_id)
        log.info("admin deleted user %s (%d messages erased)", user_id, erased)
        return await self.get(user_id)

    async def reset_password(self, user_id: int) -> tuple[str, int]:
        """A one-time token (valid 24 h) with which the user sets a new password
        (`account/password/reset`); earlier unused tokens of the user stop working."""
        token = secrets.token_urlsafe(32)
        now = now_ms()
        async with self.db.transaction() as tx:
            await self._live(tx.session, user_id)
            await admin_store.drop_password_resets(tx.session, user_id)
            tx.session.add(
                PasswordReset(token_hash=_hash(token), user_id=user_id, created_at=now, expires_at=now + RESET_TTL_MS)
            )
        return token, now + RESET_TTL_MS

    async def use_reset_token(self, token: str, new_password: str) -> None:
        """Set a new password with a reset token; every session of the user ends."""
        if not token or len(token) > 128:
            raise AppError(ErrorCode.UNAUTHENTICATED, "invalid or expired reset token")
        async with self.db.transaction() as tx:
            reset = await tx.session.get(PasswordReset, _hash(token), with_for_update=True)
            user = await account_store.get_user(tx.session, reset.user_id) if reset is not None else None
            if reset is None or user is None or reset.used_at is not None or reset.expires_at <= now_ms():
                raise AppError(ErrorCode.UNAUTHENTICATED, "invalid or expired reset token")
            if user.deleted_at is not None or user.disabled:
                raise AppError(ErrorCode.FORBIDDEN, "account disabled")
            rules.check_password(
                new_password, username=user.username, min_length=self.settings.security.password_min_length
            )
            reset.used_at = now_ms()
            await account_store.update_user(
                tx.session, reset.user_id, {"password_hash": await self.passwords.hash(new_password)}
            )
            user_id = reset.user_id
        await self.devices.revoke_of_user(user_id, device_id=None, reason="password_reset")

    async def login_logs(self, query: LoginLogQuery, *, cursor: str | None, limit: int) -> Page[LoginLog]:
        """Newest first."""
        check_limit(limit)
        if query.ip is not None and len(query.ip) > 64:
            raise bad_input("ip is too long", field="ip")
        after = decode_ints(cursor, 1)
        async with self.db.read() as session:
            rows = await account_store.login_log_page(
                session,
                user_id=query.user_id,
                ip=query.ip,
                success=query.success,
                since_ms=query.since_ms,
                until_ms=query.until_ms,
                before_id=after[0] if after else None,
                limit=limit + 1,
            )
        items = rows[:limit]
        return Page(items, encode(items[-1].id or 0) if len(rows) > limit and items else None)

    async def _live(self, session: AsyncSession, user_id: int) -> User:
        user = await account_store.get_user(session, user_id)
        if user is None or user.deleted_at is not None:
            raise not_found("user")
        return user

    async def _check_not_last_admin(self, session: AsyncSession, user_id: int) -> None:
        if not await account_store.count_admins(session, other_than=user_id):
            raise AppError(ErrorCode.CONFLICT, "this is the last administrator: make another one first")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
