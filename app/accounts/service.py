"""Registration, login, profiles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import rules, store
from app.accounts.profile import ProfileState
from app.accounts.tables import LoginLog, User
from app.config import Settings
from app.db import Database, Transaction
from app.db.types import now_ms
from app.devices.service import DeviceService, IssuedTokens
from app.errors import AppError, ErrorCode, not_found
from app.files.avatars import Avatars
from app.principal import Principal
from app.ratelimit import RateLimiter
from app.security import PasswordHashing

LOGIN_LOG_LIMIT_MAX = 200


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User
    tokens: IssuedTokens


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    display_name: str | None = None
    avatar_file_id: str | None = None  # "" removes the avatar
    bio: str | None = None
    email: str | None = None
    phone: str | None = None


class ProfileAnnouncer(Protocol):
    """Tells those who see a profile that it changed, inside the changing transaction
    (app/contacts/profiles.py; a protocol so that accounts does not import the social graph)."""

    async def announce_change(self, tx: Transaction, before: ProfileState, after: ProfileState) -> int: ...


class AccountService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        passwords: PasswordHashing,
        devices: DeviceService,
        ratelimit: RateLimiter,
        avatars: Avatars | None = None,
        announcer: ProfileAnnouncer | None = None,
    ) -> None:
        self.settings = settings
        self.announcer = announcer
        self.avatars = avatars or Avatars()
        self.db = db
        self.passwords = passwords
        self.devices = devices
        self.ratelimit = ratelimit
        # Called after a registration committed (the welcome message); set by the runtime.
        self.after_register: Callable[[User], Awaitable[None]] | None = None

    async def register(
        self,
        *,
        username: str,
        password: str,
        display_name: str | None,
        email: str | None = None,
        phone: str | None = None,
        ip: str | None = None,
        is_admin: bool = False,
    ) -> User:
        username = rules.check_username(username)
        rules.check_password(password, username=username, min_length=self.settings.security.password_min_length)
        name = rules.check_display_name(display_name if display_name is not None else username)
        email = rules.check_email(email)
        phone = rules.check_phone(phone)
        if ip is not None:
            await self.ratelimit.hit(self.settings.security.register_per_ip, "register", ip, strict=True)
        password_hash = await self.passwords.hash(password)
        async with self.db.transaction() as tx:
            if await store.get_user_by_username(tx.session, username) is not None:
                raise AppError(ErrorCode.CONFLICT, "username already taken", field="username")
            user = await store.insert_user(
                tx.session,
                username=username,
                display_name=name,
                password_hash=password_hash,
                email=email,
                phone=phone,
                is_admin=is_admin,
            )
        if self.after_register is not None:
            await self.after_register(user)
        return user

    async def login(
        self,
        *,
        username: str,
        password: str,
        device_id: str,
        device_name: str,
        platform: str,
        ip: str | None,
        user_agent: str | None,
    ) -> LoginResult:
        device_id, device_name, platform = rules.check_device(device_id, device_name, platform)
        security = self.settings.security
        account_key = username.lower()[:64]
        await self.ratelimit.hit(security.login_attempts_per_account, "login-account", account_key, strict=True)
        if ip is not None:
            await self.ratelimit.hit(security.login_attempts_per_ip, "login-ip", ip, strict=True)
        async with self.db.read() as session:
            user = await store.get_user_by_username(session, username) if len(username) <= 64 else None
        ok = await self.passwords.verify(user.password_hash if user else None, password[:1024])
        failure = None if ok and user is not None else "bad_credentials"
        if failure is None and user is not None and user.disabled:
            failure = "disabled"
        log = LoginLog(
            user_id=user.id if user else None,
            username=username[:64],
            device_id=device_id,
            platform=platform,
            ip=ip,
            user_agent=(user_agent or "")[:256] or None,
            success=failure is None,
            reason=failure,
            at=now_ms(),
        )
        async with self.db.transaction() as tx:
            await store.insert_login_log(tx.session, log)
            if failure is None and user is not None:
                tokens = await self.devices.open_session(
                    tx, user, device_id=device_id, device_name=device_name, platform=platform, ip=ip
                )
        if failure == "disabled":
            raise AppError(ErrorCode.FORBIDDEN, "account disabled")
        if failure is not None or user is None:
            # One message for unknown user and wrong password: no username probing.
            raise AppError(ErrorCode.UNAUTHENTICATED, "wrong username or password")
        return LoginResult(user=user, tokens=tokens)

    async def login_history(self, principal: Principal, *, limit: int) -> list[LoginLog]:
        if not 1 <= limit <= LOGIN_LOG_LIMIT_MAX:
            raise AppError(ErrorCode.BAD_USER_INPUT, f"limit must be 1..{LOGIN_LOG_LIMIT_MAX}", field="limit")
        async with self.db.read() as session:
            return list(await store.list_login_log(session, principal.user_id, limit=limit))

    async def get(self, user_id: int) -> User:
        async with self.db.read() as session:
            user = await store.get_user(session, user_id)
        if user is None or user.disabled:
            raise not_found("user")
        return user

    async def update_profile(self, principal: Principal, changes: ProfileChanges) -> User:
        values: dict[str, Any] = {}
        if changes.display_name is not None:
            values["display_name"] = rules.check_display_name(changes.display_name)
        if changes.bio is not None:
            values["bio"] = rules.check_text(changes.bio, field="bio", max_length=500) or None
        if changes.email is not None:
            values["email"] = rules.check_email(changes.email)
        if changes.phone is not None:
            values["phone"] = rules.check_phone(changes.phone)
        if values.get("email") or values.get("phone"):
            # Whether an address is taken shows in the answer (addresses are unique and
            # there is no verification channel yet): few tries per user, whatever the IP.
            limit = self.settings.security.address_changes_per_user
            await self.ratelimit.hit(limit, "address_change", str(principal.user_id), strict=True)
        return await self.change(principal.user_id, values, avatar_file_id=changes.avatar_file_id)

    async def change(self, user_id: int, values: dict[str, object], *, avatar_file_id: str | None = None) -> User:
        """Store checked profile values (and an avatar by file id: "" removes it) for the
        user, and announce what others see of the change (in the same transaction)."""
        async with self.db.transaction() as tx:
            user = await self.change_in(tx, user_id, values, avatar_file_id=avatar_file_id)
        return user

    async def change_in(
        self, tx: Transaction, user_id: int, values: dict[str, object], *, avatar_file_id: str | None = None
    ) -> User:
        user = await store.lock_user(tx.session, user_id)
        if user is None:
            raise not_found("user")
        before = ProfileState.of(user)
        if avatar_file_id is not None:
            await self._set_avatar(tx.session, user, avatar_file_id.strip() or None)
        if values:
            await store.update_user(tx.session, user_id, values)
        await tx.session.refresh(user)
        if self.announcer is not None:
            await self.announcer.announce_change(tx, before, ProfileState.of(user))
        return user

    async def _set_avatar(self, session: AsyncSession, user: User, file_id: str | None) -> None:
        assert user.id is not None
        if file_id is not None:
            await self.avatars.check(session, owner_id=user.id, file_id=file_id, purpose="user_avatar")
        await self.avatars.replace(session, kind="user_avatar", target_id=user.id, old=user.avatar_file_id, new=file_id)
        await store.update_user(session, user.id, {"avatar_file_id": file_id})

    async def create_admin(self, *, username: str, password: str, display_name: str | None = None) -> User:
        """Used by `privchat-server create-admin`; an existing user is promoted instead."""
        async with self.db.transaction() as tx:
            existing = await store.get_user_by_username(tx.session, username)
            if existing is not None and existing.id is not None:
                await store.update_user(tx.session, existing.id, {"is_admin": True})
                await tx.session.refresh(existing)
                return existing
        return await self.register(username=username, password=password, display_name=display_name, is_admin=True)
