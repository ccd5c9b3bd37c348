"""Privacy settings table: one row per user who changed a setting (no row: defaults)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey
from sqlmodel import Field, SQLModel


class PrivacySettingsRow(SQLModel, table=True):
    __tablename__ = "privacy_settings"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    # Audiences: "everyone" | "friends_of_friends" | "friends" | "nobody".
    find_by_username: str = Field(default="everyone", max_length=24)
    find_by_phone: str = Field(default="everyone", max_length=24)
    find_by_email: str = Field(default="everyone", max_length=24)
    find_by_qrcode: str = Field(default="everyone", max_length=24)
    add_friend: str = Field(default="everyone", max_length=24)
    friend_approval: bool = True
    add_to_group: str = Field(default="everyone", max_length=24)
    non_friends_may_message: bool = True
    show_online: str = Field(default="everyone", max_length=24)
    show_read_receipts: bool = True
    updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))
