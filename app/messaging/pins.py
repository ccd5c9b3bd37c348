"""Pinned messages: a bounded list per channel (`messaging.max_pins_per_channel`).

Either party pins in a direct chat; in a group only its owner and admins. Pinning and
unpinning are channel events (kind "pin", payload `messageId`, `pinned`) with the next
pts, so every device and every offline device converges. Pinning a pinned message or
unpinning one that is not pinned is a CONFLICT: unlike a reaction tap, it means the
client's view of the channel is stale. A recalled message cannot be pinned; a pin left
on one is not listed and does not count against the limit, and can still be removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.channels import store as channel_store
from app.channels.log import ChannelLog
from app.config import Settings
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, forbidden
from app.messaging import store
from app.messaging.policy import ModerationRules
from app.messaging.tables import ChannelPin, Message
from app.principal import Principal


@dataclass(frozen=True, slots=True)
class PinChange:
    channel_id: int
    message_id: int
    pinned: bool
    pts: int


class PinService:
    def __init__(self, *, settings: Settings, db: Database, log: ChannelLog, rules: ModerationRules) -> None:
        self.settings = settings
        self.db = db
        self.log = log
        self.rules = rules

    async def set_pinned(self, principal: Principal, message_id: int, *, pinned: bool) -> PinChange:
        user_id = principal.user_id
        async with self.db.transaction() as tx:
            session = tx.session
            # Under the channel lock: the count, the duplicate check and the insert cannot
            # interleave with another pin of the same channel.
            message, channel, member = await self.log.member_message(session, message_id, user_id, lock=True)
            if not self.rules.may_pin(channel, member):
                raise forbidden("only the group's owner and admins can pin messages")
            channel_id = message.channel_id
            existing = await store.get_pin(session, channel_id, message_id)
            if pinned:
                if message.revoked_at is not None:
                    raise AppError(ErrorCode.CONFLICT, "the message was recalled")
                if existing is not None:
                    raise AppError(ErrorCode.CONFLICT, "the message is already pinned")
                limit = self.settings.messaging.max_pins_per_channel
                if await store.count_live_pins(session, channel_id) >= limit:
                    raise AppError(
                        ErrorCode.CONFLICT, f"at most {limit} messages can be pinned in a channel", limit=limit
                    )
                await store.insert_pin(
                    session,
                    ChannelPin(channel_id=channel_id, message_id=message_id, pinned_by=user_id, pinned_at=now_ms()),
                )
            else:
                if existing is None:
                    raise AppError(ErrorCode.CONFLICT, "the message is not pinned")
                await store.delete_pin(session, channel_id, message_id)
            pts = await self.log.append_event(
                tx,
                channel_id=channel_id,
                kind="pin",
                actor_id=user_id,
                payload={"messageId": message_id, "pinned": pinned},
                recipients=await channel_store.active_member_ids(session, channel_id),
            )
        return PinChange(channel_id=channel_id, message_id=message_id, pinned=pinned, pts=pts)

    async def list_pins(self, principal: Principal, channel_id: int) -> list[tuple[ChannelPin, Message]]:
        """The channel's pinned messages the caller can see, most recently pinned first."""
        async with self.db.read() as session:
            _channel, member = await self.log.membership(session, channel_id, principal.user_id)
            # The configured limit may have been lowered since: never more than its maximum.
            return await store.live_pins(session, channel_id, visible_from_pts=member.visible_from_pts, limit=200)

