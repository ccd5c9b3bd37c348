"""Sticker packs: administrators create, change, publish and delete them; users list the
published ones and keep a collection, synced to all their devices as a user update
(`sticker_collection`). Sticker messages are checked against published stickers at send
time (app/files/attachments.py).

A pack's images are files uploaded with purpose STICKER; the pack references them
(`file_refs` kind `sticker`, target the pack), so they stay while the pack uses them and
are released when a sticker is removed or the pack is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app import paging
from app.contacts.views import Page
from app.db import Database
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.files import store as file_store
from app.files.service import FILE_ID_RE
from app.principal import Principal
from app.stickers import store
from app.stickers.tables import Sticker, StickerPack
from app.sync.updates import UserUpdates

MAX_STICKERS = 200
MAX_COLLECTION = 200
UPDATE_KIND = "sticker_collection"


@dataclass(frozen=True, slots=True)
class StickerSpec:
    file_id: str
    emoji: str | None = None


@dataclass(frozen=True, slots=True)
class PackView:
    pack: StickerPack
    stickers: list[Sticker]
    in_collection: bool = False


class StickerService:
    def __init__(self, *, db: Database, updates: UserUpdates) -> None:
        self.db = db
        self.updates = updates

    # -- admin ------------------------------------------------------------------------------

    async def create_pack(
        self,
        actor_id: int | None,
        *,
        name: str,
        description: str | None,
        cover_file_id: str | None,
        stickers: Sequence[StickerSpec],
    ) -> PackView:
        name = _check_name(name)
        description = _check_description(description)
        at = now_ms()
        async with self.db.transaction() as tx:
            s = tx.session
            pack = await store.insert_pack(
                s,
                StickerPack(name=name, description=description, created_by=actor_id, created_at=at, updated_at=at),
            )
            assert pack.id is not None
            await self._set_contents(s, pack, cover_file_id=cover_file_id, stickers=stickers, replace_stickers=True)
            return await self._view(s, pack.id, None)

    async def update_pack(
        self,
        pack_id: int,
        *,
        name: str | None,
        description: str | None,
        cover_file_id: str | None,
        stickers: Sequence[StickerSpec] | None,
    ) -> PackView:
        async with self.db.transaction() as tx:
            s = tx.session
            pack = await self._live_pack(s, pack_id, lock=True)
            values: dict[str, object] = {"updated_at": now_ms()}
            if name is not None:
                values["name"] = _check_name(name)
            if description is not None:
                values["description"] = _check_description(description)
            await store.update_pack(s, pack_id, values)
            await self._set_contents(
                s,
                pack,
                cover_file_id=cover_file_id,
                stickers=stickers or (),
                replace_stickers=stickers is not None,
            )
            return await self._view(s, pack_id, None)

    async def publish_pack(self, pack_id: int, *, published: bool) -> PackView:
        async with self.db.transaction() as tx:
            s = tx.session
            pack = await self._live_pack(s, pack_id, lock=True)
            if published:
                if not (await store.stickers_of(s, [pack_id]))[pack_id]:
                    raise bad_input("a pack needs at least one sticker to be published", field="packageId")
                if pack.published_at is None:
                    await store.update_pack(s, pack_id, {"published_at": now_ms(), "updated_at": now_ms()})
            elif pack.published_at is not None:
                await store.update_pack(s, pack_id, {"published_at": None, "updated_at": now_ms()})
            return await self._view(s, pack_id, None)

    async def delete_pack(self, pack_id: int) -> None:
        """Hidden from everyone and from every collection (each owner is told); its images
        are released."""
        async with self.db.transaction() as tx:
            s = tx.session
            await self._live_pack(s, pack_id, lock=True)
            at = now_ms()
            await store.update_pack(s, pack_id, {"deleted_at": at, "published_at": None, "updated_at": at})
            released = await file_store.delete_refs(s, kind="sticker", target_ids=[pack_id])
            await file_store.mark_released_if_unreferenced(s, released, at)
            users = await store.collectors(s, pack_id)
            await store.drop_from_all_collections(s, pack_id)
            await self.updates.append_many(
                tx, [(u, UPDATE_KIND, {"packageId": pack_id, "added": False}) for u in users]
            )

    async def admin_list(self, *, cursor: str | None, limit: int) -> Page[PackView]:
        return await self._page(None, published_only=False, cursor=cursor, limit=limit)

    async def admin_detail(self, pack_id: int) -> PackView:
        async with self.db.read() as s:
            await self._live_pack(s, pack_id)
            return await self._view(s, pack_id, None)

    # -- users ------------------------------------------------------------------------------

    async def list_published(self, principal: Principal, *, cursor: str | None, limit: int) -> Page[PackView]:
        return await self._page(principal.user_id, published_only=True, cursor=cursor, limit=limit)

    async def detail(self, principal: Principal, pack_id: int) -> PackView:
        async with self.db.read() as s:
            pack = await store.get_pack(s, pack_id)
            if pack is None or pack.deleted_at is not None or pack.published_at is None:
                raise not_found("sticker pack")
            return await self._view(s, pack_id, principal.user_id)

    async def collection(self, principal: Principal) -> list[PackView]:
        async with self.db.read() as s:
            packs = await store.collection(s, principal.user_id)
            stickers = await store.stickers_of(s, [p.id or 0 for p in packs])
        return [PackView(p, stickers[p.id or 0], True) for p in packs]

    async def add_to_collection(self, principal: Principal, pack_id: int) -> PackView:
        me = principal.user_id
        async with self.db.transaction() as tx:
            s = tx.session
            pack = await store.get_pack(s, pack_id)
            if pack is None or pack.deleted_at is not None or pack.published_at is None:
                raise not_found("sticker pack")
            if await store.collection_size(s, me) >= MAX_COLLECTION:
                raise AppError(ErrorCode.FORBIDDEN, f"a collection holds at most {MAX_COLLECTION} packs")
            if await store.add_to_collection(s, me, pack_id, now_ms()):
                await self.updates.append(tx, me, UPDATE_KIND, {"packageId": pack_id, "added": True})
            return await self._view(s, pack_id, me)

    async def remove_from_collection(self, principal: Principal, pack_id: int) -> None:
        me = principal.user_id
        async with self.db.transaction() as tx:
            if not await store.remove_from_collection(tx.session, me, pack_id):
                raise not_found("sticker pack in your collection")
            await self.updates.append(tx, me, UPDATE_KIND, {"packageId": pack_id, "added": False})

    # -- helpers ----------------------------------------------------------------------------

    async def _page(
        self, user_id: int | None, *, published_only: bool, cursor: str | None, limit: int
    ) -> Page[PackView]:
        paging.check_limit(limit)
        after = paging.decode_ints(cursor, 1)
        async with self.db.read() as s:
            packs = await store.packs_page(
                s, published_only=published_only, after_id=after[0] if after else None, limit=limit + 1
            )
            shown = packs[:limit]
            ids = [p.id or 0 for p in shown]
            stickers = await store.stickers_of(s, ids)
            mine = await store.collected(s, user_id, ids) if user_id is not None else set()
        items = [PackView(p, stickers[p.id or 0], (p.id or 0) in mine) for p in shown]
        return Page(items, paging.encode(shown[-1].id or 0) if len(packs) > limit and shown else None)

    async def _live_pack(self, s: AsyncSession, pack_id: int, *, lock: bool = False) -> StickerPack:
        pack = await store.get_pack(s, pack_id, lock=lock)
        if pack is None or pack.deleted_at is not None:
            raise not_found("sticker pack")
        return pack

    async def _view(self, s: AsyncSession, pack_id: int, user_id: int | None) -> PackView:
        pack = await store.get_pack(s, pack_id)
        assert pack is not None
        await s.refresh(pack)
        stickers = (await store.stickers_of(s, [pack_id]))[pack_id]
        mine = await store.collected(s, user_id, [pack_id]) if user_id is not None else set()
        return PackView(pack, stickers, pack_id in mine)

    async def _set_contents(
        self,
        s: AsyncSession,
        pack: StickerPack,
        *,
        cover_file_id: str | None,
        stickers: Sequence[StickerSpec],
        replace_stickers: bool,
    ) -> None:
        """Check the images, then point the pack at them and release what it no longer uses."""
        assert pack.id is not None
        if replace_stickers and len(stickers) > MAX_STICKERS:
            raise bad_input(f"a pack holds at most {MAX_STICKERS} stickers", field="stickers")
        wanted = [spec.file_id for spec in stickers] if replace_stickers else []
        if cover_file_id:
            wanted.append(cover_file_id)
        await _check_images(s, wanted)
        current = (await store.stickers_of(s, [pack.id]))[pack.id]
        in_use = {st.file_id for st in current} if not replace_stickers else set()
        if replace_stickers:
            rows = [
                Sticker(pack_id=pack.id, file_id=spec.file_id, emoji=_check_emoji(spec.emoji), position=i)
                for i, spec in enumerate(stickers)
            ]
            await store.replace_stickers(s, pack.id, rows)
            in_use |= {spec.file_id for spec in stickers}
        cover = pack.cover_file_id
        if cover_file_id is not None:
            cover = cover_file_id or None
            await store.update_pack(s, pack.id, {"cover_file_id": cover})
        if cover:
            in_use.add(cover)
        at = now_ms()
        released = await file_store.delete_refs(s, kind="sticker", target_ids=[pack.id])
        await file_store.insert_refs(
            s,
            [
                {"file_id": f, "kind": "sticker", "target_id": pack.id, "channel_id": None, "created_at": at}
                for f in sorted(in_use)
            ],
        )
        await file_store.mark_released_if_unreferenced(s, [f for f in released if f not in in_use], at)


async def _check_images(s: AsyncSession, file_ids: list[str]) -> None:
    for file_id in file_ids:
        if not FILE_ID_RE.match(file_id):
            raise AppError(ErrorCode.NOT_FOUND, "file not found", field="fileId", fileId=file_id)
    records = await file_store.files_by_id(s, file_ids)
    for file_id in file_ids:
        record = records.get(file_id)
        if record is None:
            raise AppError(ErrorCode.NOT_FOUND, "file not found", field="fileId", fileId=file_id)
        if record.status != "ready" or record.purpose != "sticker" or record.media_kind != "image":
            raise bad_input(
                "sticker images must be complete uploads with purpose STICKER", field="fileId", fileId=file_id
            )


def _check_name(name: str) -> str:
    text = name.strip()
    if not 1 <= len(text) <= 64:
        raise bad_input("name must be 1..64 characters", field="name")
    return text


def _check_description(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) > 256:
        raise bad_input("description must be at most 256 characters", field="description")
    return text or None


def _check_emoji(emoji: str | None) -> str | None:
    if emoji is None or emoji == "":
        return None
    if len(emoji) > 16 or any(ch.isspace() or ord(ch) < 32 for ch in emoji):
        raise bad_input("emoji must be 1..16 characters without blanks", field="emoji")
    return emoji
