"""File tables: uploads and their published files, content-addressed blobs, references."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId


class FileBlob(SQLModel, table=True):
    """Stored bytes, once per (source, sha256). `ref_count` counts the files that use it;
    the bytes are deleted from their source when it reaches zero."""

    __tablename__ = "file_blobs"
    __table_args__ = (UniqueConstraint("source_id", "sha256", name="uq_file_blobs_source_sha256"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    source_id: int = Field(sa_column=Column(Integer, nullable=False))
    sha256: str = Field(max_length=64)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    key: str = Field(max_length=512)
    ref_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class StoredFile(SQLModel, table=True):
    """One upload, from its token to its deletion. `id` is the public fileId.

    status: pending (token issued, bytes arriving) -> ready (validated, stored, blob set)
    or failed (the bytes were refused; `error` says why). A ready file is readable by
    those the access rules admit (app/files/access.py)."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_owner_status", "owner_id", "status"),
        Index("ix_files_status_expires", "status", "expires_at"),
        Index("ix_files_parent", "parent_id"),
    )

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    owner_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    purpose: str = Field(max_length=16)  # message | user_avatar | group_avatar | sticker | thumbnail
    status: str = Field(max_length=12)  # pending | ready | failed
    name: str = Field(max_length=255)
    declared_mime: str = Field(max_length=161)
    declared_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    declared_sha256: str | None = Field(default=None, max_length=64)
    source_id: int = Field(sa_column=Column(Integer, nullable=False))
    blob_id: int | None = Field(default=None, sa_column=Column(BigInteger, ForeignKey("file_blobs.id"), nullable=True))
    # Known once ready: what the bytes really are.
    size: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    mime: str | None = Field(default=None, max_length=161)
    media_kind: str | None = Field(default=None, max_length=8)  # image | audio | video | file
    sha256: str | None = Field(default=None, max_length=64)
    width: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    height: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    duration_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    blurhash: str | None = Field(default=None, max_length=64)
    thumbnail_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    # A generated thumbnail points at its original, and is readable by whoever reads that.
    parent_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    error: str | None = Field(default=None, max_length=256)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))  # for pending uploads
    completed_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Set when a reference was removed and none is left: the sweeper deletes the file.
    released_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class FileRef(SQLModel, table=True):
    """Something that uses a file: a message (with its channel, for access checks), a
    user's or group's avatar, a sticker. A file nothing refers to is eventually deleted."""

    __tablename__ = "file_refs"
    __table_args__ = (Index("ix_file_refs_target", "kind", "target_id"),)

    file_id: str = Field(sa_column=Column(String(32), ForeignKey("files.id", ondelete="CASCADE"), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), primary_key=True))  # message | user_avatar | group_avatar | sticker
    target_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    channel_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
