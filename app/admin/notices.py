"""Messages from the server itself: the welcome message and broadcast notices.

They come from the system account (`[system_message] sender_username`, created on first use,
with no usable password) as ordinary text messages in its direct channel with each user,
appended through the channel log: delivered live, counted in pts, found by sync. Each has a
client message id of its own (`welcome`, `broadcast-<id>`), so a retry never sends twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from app.accounts import store as account_store
from app.accounts.tables import User
from app.channels import log_store
from app.channels.log import ChannelLog, MessageDraft
from app.channels.service import ChannelService
from app.config import Settings
from app.db import Database
from app.errors import AppError, ErrorCode, bad_input
from app.messaging.content import MessageType
from app.principal import Principal
from app.ratelimit import RateLimiter

log = logging.getLogger(__name__)

BROADCAST_BATCH = 100
MAX_BROADCAST_LIST = 1000
UNUSABLE_PASSWORD = "!"


@dataclass(frozen=True, slots=True)
class BroadcastReceipt:
    broadcast_id: str
    recipients: int  # users it was or is being sent to
    background: bool  # True: sending to every user continues after the answer


def render_welcome(template: str, user: User) -> str:
    """`{display_name}` and `{username}` are replaced; other braces are kept as written."""
    return template.replace("{display_name}", user.display_name).replace("{username}", user.username)


class SystemNotices:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        log: ChannelLog,
        channels: ChannelService,
        ratelimit: RateLimiter,
    ) -> None:
        self.settings = settings
        self.db = db
        self.log = log
        self.channels = channels
        self.ratelimit = ratelimit
        self._system_id: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def system_user_id(self) -> int:
        """The system account's id, created the first time it is needed."""
        if self._system_id is not None:
            return self._system_id
        config = self.settings.system_message
        async with self.db.transaction() as tx:
            user = await account_store.get_user_by_username(tx.session, config.sender_username)
            if user is None:
                try:
                    user = await account_store.insert_user(
                        tx.session,
                        username=config.sender_username,
                        display_name=config.sender_display_name,
                        password_hash=UNUSABLE_PASSWORD,
                    )
                except AppError:  # another process created it first
                    user = await account_store.get_user_by_username(tx.session, config.sender_username)
        assert user is not None and user.id is not None
        self._system_id = user.id
        return user.id

    async def acting_user(self, principal: Principal | None) -> int:
        """Who system lines name for an admin action: the admin, or the system account when
        the service key acted."""
        return principal.user_id if principal is not None else await self.system_user_id()

    async def welcome(self, user: User) -> None:
        """After a registration committed: the welcome message, when enabled. Never fails
        the registration: a problem is logged."""
        config = self.settings.system_message
        if not config.welcome_enabled or user.id is None:
            return
        try:
            await self.send(user.id, render_welcome(config.welcome_text, user), client_msg_id="welcome")
        except Exception:
            log.exception("could not send the welcome message to user %s", user.id)

    async def send(self, user_id: int, text: str, *, client_msg_id: str) -> bool:
        """One notice to one user; False when it was already sent (same client_msg_id)."""
        system_id = await self.system_user_id()
        if user_id == system_id:
            return False
        async with self.db.transaction() as tx:
            channel, _ = await self.channels.get_or_create_direct(tx, system_id, user_id)
            assert channel.id is not None
            await self.log.lock(tx.session, channel.id)  # concurrent senders of one notice: one wins
            if await log_store.find_by_client_id(tx.session, system_id, f"{client_msg_id}:{channel.id}") is not None:
                return False
            draft = MessageDraft(
                channel_id=channel.id,
                sender_id=system_id,
                client_msg_id=f"{client_msg_id}:{channel.id}",
                type=MessageType.TEXT.value,
                content={"text": text},
            )
            await self.log.append_messages(tx, [draft], recipients=[system_id, user_id])
        return True

    async def broadcast(self, text: str, user_ids: Sequence[int] | None) -> BroadcastReceipt:
        """A notice to the listed users (sent before answering) or to every user (sent in
        the background, in batches). Limited by `[system_message] broadcast_rate`."""
        text = text.strip()
        if not text:
            raise bad_input("text must not be blank", field="text")
        if len(text) > self.settings.messaging.max_text_length:
            raise bad_input(f"text longer than {self.settings.messaging.max_text_length} characters", field="text")
        if user_ids is not None and not 1 <= len(user_ids) <= MAX_BROADCAST_LIST:
            raise bad_input(f"userIds must list 1..{MAX_BROADCAST_LIST} users (or be left out: everyone)")
        await self.ratelimit.hit(self.settings.system_message.broadcast_rate, "broadcast", "all", strict=True)
        broadcast_id = secrets.token_hex(8)
        system_id = await self.system_user_id()
        if user_ids is not None:
            async with self.db.read() as session:
                for user_id in user_ids:
                    user = await account_store.get_user(session, user_id)
                    if user is None or user.deleted_at is not None:
                        raise AppError(ErrorCode.NOT_FOUND, f"user {user_id} not found", field="userIds")
            unique = list(dict.fromkeys(u for u in user_ids if u != system_id))
            for user_id in unique:
                await self.send(user_id, text, client_msg_id=f"broadcast-{broadcast_id}")
            return BroadcastReceipt(broadcast_id, len(unique), background=False)
        async with self.db.read() as session:
            total = await account_store.count_reachable_users(session, except_id=system_id)
        task = asyncio.create_task(self._to_everyone(text, broadcast_id, system_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return BroadcastReceipt(broadcast_id, total, background=True)

    async def _to_everyone(self, text: str, broadcast_id: str, system_id: int) -> None:
        after = 0
        sent = 0
        try:
            while True:
                async with self.db.read() as session:
                    ids = await account_store.reachable_user_ids(
                        session, after_id=after, except_id=system_id, limit=BROADCAST_BATCH
                    )
                for user_id in ids:
                    sent += await self.send(user_id, text, client_msg_id=f"broadcast-{broadcast_id}")
                if len(ids) < BROADCAST_BATCH:
                    break
                after = ids[-1]
        except Exception:
            log.exception("broadcast %s stopped after %d users", broadcast_id, sent)
            return
        log.info("broadcast %s sent to %d users", broadcast_id, sent)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
