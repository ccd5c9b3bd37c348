"""Device session tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId


class DeviceSession(SQLModel, table=True):
    """One logged-in device. A revoked row stays for the audit trail."""

    __tablename__ = "device_sessions"
    __table_args__ = (Index("ix_device_sessions_user", "user_id", "revoked_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    device_id: str = Field(max_length=128)
    device_name: str = Field(max_length=128)
    platform: str = Field(max_length=32)
    ip: str | None = Field(default=None, max_length=64)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_active_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    revoke_reason: str | None = Field(default=None, max_length=32)


class RefreshToken(SQLModel, table=True):
    """Refresh tokens, stored as SHA-256 hashes. A rotated token presented again
    means it leaked: the whole device session is revoked."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session", "session_id"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    session_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("device_sessions.id", ondelete="CASCADE"), nullable=False)
    )
    issued_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    rotated_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
