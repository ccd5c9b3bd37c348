"""Presence tables: only what must survive a restart (live state is in Redis or memory)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey
from sqlmodel import Field, SQLModel


class UserPresence(SQLModel, table=True):
    """When each user was last online (written when they come online and go offline)."""

    __tablename__ = "user_presence"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    last_seen_at: int = Field(sa_column=Column(BigInteger, nullable=False))
