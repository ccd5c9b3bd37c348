"""Group tables. Membership itself (role, join time, inviter, mute) lives in
`channel_members`; these hold what only groups have."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel

# A new group's member limit; the owner may raise it up to SERVER_MAX_MEMBERS.
DEFAULT_MAX_MEMBERS = 500


class GroupSettings(SQLModel, table=True):
    """One row per group, created with it."""

    __tablename__ = "group_settings"

    channel_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
    )
    description: str | None = Field(default=None, max_length=512)
    # The pinned notice; changing it is its own channel event.
    announcement: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    announcement_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    announcement_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Invitations by plain members (and QR joins) wait for an owner/admin.
    join_approval: bool = False
    members_may_invite: bool = True
    members_see_profiles: bool = True
    forbid_forward: bool = False
    # False: a new member sees only what happens from their join on.
    history_visible: bool = True
    # Only the owner and admins may send.
    mute_all: bool = False
    max_members: int = Field(
        default=DEFAULT_MAX_MEMBERS, sa_column=Column(Integer, nullable=False, default=DEFAULT_MAX_MEMBERS)
    )
    updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class GroupJoinRequest(SQLModel, table=True):
    """The latest request of a user to join a group (an invitation by a plain member under
    join approval, or a QR join under approval); one row per (group, user)."""

    __tablename__ = "group_join_requests"
    __table_args__ = (Index("ix_group_join_requests_status", "channel_id", "status", "created_at"),)

    channel_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True))
    inviter_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    source: str = Field(max_length=16)  # "invite" | "qrcode"
    message: str | None = Field(default=None, max_length=256)
    status: str = Field(max_length=16)  # "pending" | "approved" | "rejected" | "cancelled"
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    handled_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    handled_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class GroupBan(SQLModel, table=True):
    """A user removed with `ban`: may not rejoin unless an owner/admin adds them again."""

    __tablename__ = "group_bans"

    channel_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True))
    banned_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class GroupQrCode(SQLModel, table=True):
    """A group's one current QR code. Refreshing replaces the token (the old one stops
    working at once); every code expires."""

    __tablename__ = "group_qrcodes"

    channel_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
    )
    token: str = Field(max_length=64, unique=True)
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    ttl_seconds: int = Field(sa_column=Column(Integer, nullable=False))
