"""Admin tables: the append-only audit log and one-time password reset tokens."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId, Json


class AdminAudit(SQLModel, table=True):
    """One privileged call, allowed or refused. Rows are never updated or deleted (the
    migration adds triggers that refuse it)."""

    __tablename__ = "admin_audit"
    __table_args__ = (
        Index("ix_admin_audit_actor", "actor_user_id", "id"),
        Index("ix_admin_audit_route", "route", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    at: int = Field(sa_column=Column(BigInteger, nullable=False))
    actor_kind: str = Field(max_length=16)  # user | service_key | anonymous
    actor_user_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    route: str = Field(max_length=128)
    transport: str = Field(max_length=16)
    args: dict[str, object] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    target: str | None = Field(default=None, max_length=64)
    result: str = Field(max_length=32)  # OK or an error code
    ip: str | None = Field(default=None, max_length=64)


class PasswordReset(SQLModel, table=True):
    """A one-time password reset token made by an admin, stored as its SHA-256 hash."""

    __tablename__ = "password_resets"
    __table_args__ = (Index("ix_password_resets_user", "user_id"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    used_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
