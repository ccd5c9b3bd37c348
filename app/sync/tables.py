"""User update sequence tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from app.db.types import Json


class UserSequence(SQLModel, table=True):
    """The head of a user's update sequence; bumped in the transaction that appends."""

    __tablename__ = "user_sequences"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class UserUpdate(SQLModel, table=True):
    """One non-channel event for one user (friend request, channel list change, read state
    from another device, device kick...). `seq` is gapless per user."""

    __tablename__ = "user_updates"
    __table_args__ = (Index("ix_user_updates_created", "created_at"),)

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=48)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
