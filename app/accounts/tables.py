"""Account tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    username: str = Field(max_length=32)
    # Usernames are unique case-insensitively; the lowered form carries the index.
    username_key: str = Field(max_length=32, unique=True)
    display_name: str = Field(max_length=64)
    password_hash: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=254, unique=True)
    phone: str | None = Field(default=None, max_length=32, unique=True)
    avatar_file_id: str | None = Field(default=None, max_length=32)
    bio: str | None = Field(default=None, max_length=500)
    is_admin: bool = False
    disabled: bool = False
    # Set when an admin deleted the account: personal data erased, the row kept for integrity.
    deleted_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class LoginLog(SQLModel, table=True):
    __tablename__ = "login_log"
    __table_args__ = (Index("ix_login_log_user_at", "user_id", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    user_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    username: str = Field(max_length=64)
    device_id: str = Field(max_length=128)
    platform: str = Field(max_length=32)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=256)
    success: bool
    reason: str | None = Field(default=None, max_length=64)
    at: int = Field(sa_column=Column(BigInteger, nullable=False))
