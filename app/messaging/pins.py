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

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.channels import store as channel_store
from app.config import Settings
from app.context import Principal
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, forbidden
from app.messaging.message_access import member_message
from app.messaging.service import MessagingService
from app.messaging.tables import ChannelPin, Message

MODERATOR_ROLES = ("owner", "admin")


@dataclass(frozen=True, slots=True)
class PinChange:
    channel_id: int
    message_id: int
    pinned: bool
    pts: int


class PinService:
    def __init__(self, *, settings: Settings, db: Database, messaging: MessagingService) -> None:
        self.settings = settings
        self.db = db
        self.messaging = messaging

    async def set_pinned(self, principal: Principal, message_id: int, *, pinned: bool) -> PinChange:
        user_id = principal.user_id
        async with self.db.transaction() as tx:
            session = tx.session
            # Under the channel lock: the count, the duplicate check and the insert cannot
            # interleave with another pin of the same channel.
            message, channel, member = await member_message(self.messaging, session, message_id, user_id, lock=True)
            if channel.kind != "direct" and member.role not in MODERATOR_ROLES:
                raise forbidden("only the group's owner and admins can pin messages")
            channel_id = message.channel_id
            existing = await session.get(ChannelPin, (channel_id, message_id))
            if pinned:
                if message.revoked_at is not None:
                    raise AppError(ErrorCode.CONFLICT, "the message was recalled")
                if existing is not None:
                    raise AppError(ErrorCode.CONFLICT, "the message is already pinned")
                limit = self.settings.messaging.max_pins_per_channel
                if await _count_live_pins(session, channel_id) >= limit:
                    raise AppError(
                        ErrorCode.CONFLICT, f"at most {limit} messages can be pinned in a channel", limit=limit
                    )
                session.add(
                    ChannelPin(channel_id=channel_id, message_id=message_id, pinned_by=user_id, pinned_at=now_ms())
                )
                await session.flush()
            else:
                if existing is None:
                    raise AppError(ErrorCode.CONFLICT, "the message is not pinned")
                await session.execute(
                    delete(ChannelPin).where(
                        col(ChannelPin.channel_id) == channel_id, col(ChannelPin.message_id) == message_id
                    )
                )
            pts = await self.messaging.append_event(
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
            _channel, member = await self.messaging.require_member(session, channel_id, principal.user_id)
            result = await session.execute(
                select(ChannelPin, Message)
                .join(Message, col(Message.id) == col(ChannelPin.message_id))
                .where(
                    col(ChannelPin.channel_id) == channel_id,
                    col(Message.revoked_at).is_(None),
                    col(Message.pts) > member.visible_from_pts,
                )
                .order_by(col(ChannelPin.pinned_at).desc(), col(ChannelPin.message_id).desc())
                # The configured limit may have been lowered since: never more than its maximum.
                .limit(200)
            )
            return [(row[0], row[1]) for row in result.all()]


async def _count_live_pins(session: AsyncSession, channel_id: int) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(ChannelPin)
        .join(Message, col(Message.id) == col(ChannelPin.message_id))
        .where(col(ChannelPin.channel_id) == channel_id, col(Message.revoked_at).is_(None))
    )
    return int(result.scalar_one())
