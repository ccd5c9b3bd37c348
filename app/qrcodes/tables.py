"""QR code table."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class UserQrCode(SQLModel, table=True):
    """A user's one current QR code. Refreshing replaces the token, so the old one stops
    resolving; `ttl_seconds` (None: no expiry) carries over when an expired code is renewed."""

    __tablename__ = "user_qrcodes"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    token: str = Field(max_length=64, unique=True)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    ttl_seconds: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
