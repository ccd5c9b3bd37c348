"""Social graph tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import BigIntId


def _user_fk(*, primary_key: bool = False) -> Column[int]:
    return Column(
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
        autoincrement=False,
    )


class Friendship(SQLModel, table=True):
    """One direction of a friendship: a friendship is always two rows, (a, b) and (b, a),
    written and deleted in one transaction. Each side keeps its own alias and source."""

    __tablename__ = "friendships"
    __table_args__ = (Index("ix_friendships_friend", "friend_id"),)

    user_id: int = Field(sa_column=_user_fk(primary_key=True))
    friend_id: int = Field(sa_column=_user_fk(primary_key=True))
    alias: str | None = Field(default=None, max_length=64)
    # How this side came to the friendship: search | qrcode | group | card | phone | admin.
    source: str = Field(max_length=16)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class FriendRequest(SQLModel, table=True):
    """The friend request state of one pair of users, whichever of them asked.

    One row per unordered pair (`pair_key` = "<smaller id>:<larger id>"): every change to
    a pair's requests first locks this row, which is what turns two crossing requests into
    one friendship and lets exactly one of a racing accept and recall win."""

    __tablename__ = "friend_requests"
    __table_args__ = (
        UniqueConstraint("pair_key", name="uq_friend_requests_pair"),
        Index("ix_friend_requests_to", "to_user_id", "status", "updated_at"),
        Index("ix_friend_requests_from", "from_user_id", "status", "updated_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    pair_key: str = Field(max_length=48)
    from_user_id: int = Field(sa_column=_user_fk())
    to_user_id: int = Field(sa_column=_user_fk())
    # none (the pair's lock row, never a request) | pending | accepted | rejected | recalled | cancelled
    status: str = Field(max_length=16)
    message: str | None = Field(default=None, max_length=200)
    source: str = Field(max_length=16)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class BlacklistEntry(SQLModel, table=True):
    """`user_id` blocked `blocked_id`. The blocked user is never told."""

    __tablename__ = "blacklist"
    __table_args__ = (
        Index("ix_blacklist_blocked", "blocked_id"),
        Index("ix_blacklist_user_at", "user_id", "created_at"),
    )

    user_id: int = Field(sa_column=_user_fk(primary_key=True))
    blocked_id: int = Field(sa_column=_user_fk(primary_key=True))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class SharedCard(SQLModel, table=True):
    """A user's card sent by `from_user_id` to `to_user_id`: the receiver may apply to the
    card's user with source "card"."""

    __tablename__ = "shared_cards"
    __table_args__ = (Index("ix_shared_cards_to_card", "to_user_id", "card_user_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    from_user_id: int = Field(sa_column=_user_fk())
    to_user_id: int = Field(sa_column=_user_fk())
    card_user_id: int = Field(sa_column=_user_fk())
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
