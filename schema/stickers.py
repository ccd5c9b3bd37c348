"""Sticker pack types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.stickers.service import PackView
from schema.common import from_ms, to_id
from schema.event_interfaces import UserUpdateEvent


@strawberry.type
class StickerItem:
    id: strawberry.ID
    file_id: strawberry.ID
    emoji: str | None


@strawberry.type
class StickerPackage:
    id: strawberry.ID
    name: str
    description: str | None
    cover_file_id: strawberry.ID | None
    stickers: list[StickerItem]
    published: bool
    published_at: datetime | None
    in_collection: bool = strawberry.field(description="in the caller's collection")

    @classmethod
    def from_view(cls, view: PackView) -> StickerPackage:
        p = view.pack
        return cls(
            id=to_id(p.id or 0),
            name=p.name,
            description=p.description,
            cover_file_id=strawberry.ID(p.cover_file_id) if p.cover_file_id else None,
            stickers=[
                StickerItem(id=to_id(s.id or 0), file_id=strawberry.ID(s.file_id), emoji=s.emoji) for s in view.stickers
            ],
            published=p.published_at is not None,
            published_at=from_ms(p.published_at),
            in_collection=view.in_collection,
        )


@strawberry.type(description="A sticker pack was added to or removed from your collection (on any of your devices).")
class StickerCollectionEvent(UserUpdateEvent):
    package_id: strawberry.ID
    added: bool

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> StickerCollectionEvent:
        return cls(seq=seq, package_id=to_id(int(payload["packageId"])), added=bool(payload.get("added")))


STICKER_UPDATE_KINDS = {"sticker_collection": StickerCollectionEvent.from_update}
STICKER_UPDATE_TYPES: tuple[type, ...] = (StickerCollectionEvent,)


@strawberry.input
class StickerPackageListInput:
    cursor: str | None = None
    limit: int = 50


@strawberry.type
class StickerPackageListPayload:
    packages: list[StickerPackage]
    next_cursor: str | None


@strawberry.input
class StickerPackageDetailInput:
    package_id: strawberry.ID


@strawberry.type
class StickerPackagePayload:
    package: StickerPackage


@strawberry.type
class StickerCollectionListPayload:
    packages: list[StickerPackage]


@strawberry.input
class StickerCollectionAddInput:
    package_id: strawberry.ID


@strawberry.input
class StickerCollectionRemoveInput:
    package_id: strawberry.ID


@strawberry.input
class StickerSpecInput:
    file_id: strawberry.ID = strawberry.field(description="an image uploaded with purpose STICKER")
    emoji: str | None = None


@strawberry.input
class AdminStickerPackageCreateInput:
    name: str
    description: str | None = None
    cover_file_id: strawberry.ID | None = None
    stickers: list[StickerSpecInput] = strawberry.field(default_factory=list, description="in display order")


@strawberry.input(description="Only the given fields change; `stickers` replaces the whole ordered list.")
class AdminStickerPackageUpdateInput:
    package_id: strawberry.ID
    name: str | None = None
    description: str | None = None
    cover_file_id: strawberry.ID | None = None
    stickers: list[StickerSpecInput] | None = None


@strawberry.input
class AdminStickerPackagePublishInput:
    package_id: strawberry.ID
    published: bool = True


@strawberry.input
class AdminStickerPackageDeleteInput:
    package_id: strawberry.ID


@strawberry.input
class AdminStickerPackageListInput:
    cursor: str | None = None
    limit: int = 50
