"""Channel tables. A group is a channel (its id is the group id)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId


class Channel(SQLModel, table=True):
    __tablename__ = "channels"
    __table_args__ = (Index("ix_channels_activity", "last_event_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    kind: str = Field(max_length=16)  # "direct" | "group"
    # Head of the channel's event log: the pts of its newest event. Bumped with
    # UPDATE ... SET pts = pts + 1 RETURNING pts inside the storing transaction.
    pts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # "<smaller user id>:<larger user id>" for direct channels: one channel per pair.
    direct_key: str | None = Field(default=None, max_length=48, unique=True)
    title: str | None = Field(default=None, max_length=128)
    avatar_file_id: str | None = Field(default=None, max_length=32)
    owner_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    member_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    last_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_event_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    deleted_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ChannelMember(SQLModel, table=True):
    """Membership plus the member's own view of the conversation (read state, pin, hide,
    mute). A member who left keeps the row with `left_at` set, so history stays bounded."""

    __tablename__ = "channel_members"
    __table_args__ = (Index("ix_channel_members_user", "user_id", "left_at"),)

    channel_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True))
    role: str = Field(default="member", max_length=16)  # "owner" | "admin" | "member"
    joined_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Events before this pts are not visible to the member (history hidden from newcomers).
    visible_from_pts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    left_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Events after this pts are not visible to a member who left.
    left_pts: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    invited_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    read_pts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # Moderation: may not send until then (groups).
    muted_until: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Conversation settings, synced across the member's devices.
    notify_muted: bool = False
    pinned_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    hidden: bool = False
    # Lowest unread pts that mentions this member (None: no unread mention).
    mention_pts: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
