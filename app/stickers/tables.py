"""Sticker tables: packs, their ordered stickers, and users' collections."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId


class StickerPack(SQLModel, table=True):
    __tablename__ = "sticker_packs"
    __table_args__ = (Index("ix_sticker_packs_published", "published_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    name: str = Field(max_length=64)
    description: str | None = Field(default=None, max_length=256)
    cover_file_id: str | None = Field(default=None, sa_column=Column(String(32), ForeignKey("files.id"), nullable=True))
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Users see a pack once it is published; a deleted pack is kept (messages name it) but hidden.
    published_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    deleted_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Sticker(SQLModel, table=True):
    __tablename__ = "stickers"
    __table_args__ = (Index("ix_stickers_pack", "pack_id", "position"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    pack_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("sticker_packs.id", ondelete="CASCADE"), nullable=False)
    )
    file_id: str = Field(sa_column=Column(String(32), ForeignKey("files.id"), nullable=False))
    emoji: str | None = Field(default=None, max_length=32)
    position: int = Field(sa_column=Column(Integer, nullable=False))


class UserStickerPack(SQLModel, table=True):
    """A pack in a user's collection, in the order the user added them."""

    __tablename__ = "user_sticker_packs"

    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True))
    pack_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("sticker_packs.id", ondelete="CASCADE"), primary_key=True)
    )
    added_at: int = Field(sa_column=Column(BigInteger, nullable=False))
