"""Message and channel event tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId, Json


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # Idempotent send: a retry with the same client id finds the original.
        UniqueConstraint("sender_id", "client_msg_id", name="uq_messages_sender_client_id"),
        UniqueConstraint("channel_id", "pts", name="uq_messages_channel_pts"),
        Index("ix_messages_channel_sender_pts", "channel_id", "sender_id", "pts"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    channel_id: int = Field(sa_column=Column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False))
    pts: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    client_msg_id: str = Field(max_length=64)
    type: str = Field(max_length=16)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    # Free client metadata (e.g. image width/height, thumbnail file id).
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column(Json, nullable=True))
    reply_to_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    forwarded_from_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    mentions: list[int] | None = Field(default=None, sa_column=Column(Json, nullable=True))
    mention_all: bool = False
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    revoked_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ChannelEvent(SQLModel, table=True):
    """The channel's log: one row per pts. `sync/get_difference` reads it."""

    __tablename__ = "channel_events"

    channel_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    )
    pts: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=32)
    actor_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(Json, nullable=True))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class RevokedMessageAudit(SQLModel, table=True):
    """Original content of revoked messages, kept only with security.keep_revoked_audit."""

    __tablename__ = "revoked_message_audit"

    message_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    channel_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str = Field(max_length=16)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_by: int = Field(sa_column=Column(BigInteger, nullable=False))


class MessageReaction(SQLModel, table=True):
    """One reaction per (message, user, emoji)."""

    __tablename__ = "message_reactions"
    __table_args__ = (Index("ix_message_reactions_channel", "channel_id", "message_id"),)

    message_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    emoji: str = Field(primary_key=True, max_length=32)
    channel_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class ChannelPin(SQLModel, table=True):
    """A message pinned in a channel (bounded count per channel)."""

    __tablename__ = "channel_pins"

    channel_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    )
    message_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    )
    pinned_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    pinned_at: int = Field(sa_column=Column(BigInteger, nullable=False))
