"""Sticker SQL: no policy, no events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.stickers.tables import Sticker, StickerPack, UserStickerPack


async def published_sticker(session: AsyncSession, pack_id: int, sticker_id: int) -> Sticker | None:
    rows = await session.execute(
        select(Sticker)
        .join(StickerPack, col(StickerPack.id) == col(Sticker.pack_id))
        .where(
            col(Sticker.id) == sticker_id,
            col(Sticker.pack_id) == pack_id,
            col(StickerPack.published_at).is_not(None),
            col(StickerPack.deleted_at).is_(None),
        )
    )
    return rows.scalar_one_or_none()


async def insert_pack(session: AsyncSession, pack: StickerPack) -> StickerPack:
    session.add(pack)
    await session.flush()
    return pack


async def get_pack(session: AsyncSession, pack_id: int, *, lock: bool = False) -> StickerPack | None:
    query = select(StickerPack).where(col(StickerPack.id) == pack_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def update_pack(session: AsyncSession, pack_id: int, values: dict[str, object]) -> None:
    await session.execute(update(StickerPack).where(col(StickerPack.id) == pack_id).values(**values))


async def stickers_of(session: AsyncSession, pack_ids: Sequence[int]) -> dict[int, list[Sticker]]:
    out: dict[int, list[Sticker]] = {p: [] for p in pack_ids}
    if not pack_ids:
        return out
    rows = await session.execute(
        select(Sticker)
        .where(col(Sticker.pack_id).in_(list(pack_ids)))
        .order_by(col(Sticker.pack_id), col(Sticker.position))
    )
    for sticker in rows.scalars().all():
        out[sticker.pack_id].append(sticker)
    return out


async def replace_stickers(session: AsyncSession, pack_id: int, stickers: list[Sticker]) -> None:
    await session.execute(delete(Sticker).where(col(Sticker.pack_id) == pack_id))
    session.add_all(stickers)
    await session.flush()


async def packs_page(
    session: AsyncSession, *, published_only: bool, after_id: int | None, limit: int
) -> list[StickerPack]:
    query = select(StickerPack).where(col(StickerPack.deleted_at).is_(None))
    if published_only:
        query = query.where(col(StickerPack.published_at).is_not(None))
    if after_id is not None:
        query = query.where(col(StickerPack.id) > after_id)
    rows = await session.execute(query.order_by(col(StickerPack.id)).limit(limit))
    return list(rows.scalars().all())


async def collection(session: AsyncSession, user_id: int) -> list[StickerPack]:
    rows = await session.execute(
        select(StickerPack)
        .join(UserStickerPack, col(UserStickerPack.pack_id) == col(StickerPack.id))
        .where(
            col(UserStickerPack.user_id) == user_id,
            col(StickerPack.published_at).is_not(None),
            col(StickerPack.deleted_at).is_(None),
        )
        .order_by(col(UserStickerPack.added_at), col(StickerPack.id))
    )
    return list(rows.scalars().all())


async def collected(session: AsyncSession, user_id: int, pack_ids: Sequence[int]) -> set[int]:
    if not pack_ids:
        return set()
    rows = await session.execute(
        select(col(UserStickerPack.pack_id)).where(
            col(UserStickerPack.user_id) == user_id, col(UserStickerPack.pack_id).in_(list(pack_ids))
        )
    )
    return {int(r[0]) for r in rows.all()}


async def add_to_collection(session: AsyncSession, user_id: int, pack_id: int, at: int) -> bool:
    if await session.get(UserStickerPack, (user_id, pack_id)) is not None:
        return False
    session.add(UserStickerPack(user_id=user_id, pack_id=pack_id, added_at=at))
    await session.flush()
    return True


async def remove_from_collection(session: AsyncSession, user_id: int, pack_id: int) -> bool:
    result = await session.execute(
        delete(UserStickerPack)
        .where(col(UserStickerPack.user_id) == user_id, col(UserStickerPack.pack_id) == pack_id)
        .returning(col(UserStickerPack.user_id))
    )
    return result.first() is not None


async def collectors(session: AsyncSession, pack_id: int) -> list[int]:
    rows = await session.execute(select(col(UserStickerPack.user_id)).where(col(UserStickerPack.pack_id) == pack_id))
    return [int(r[0]) for r in rows.all()]


async def drop_from_all_collections(session: AsyncSession, pack_id: int) -> None:
    await session.execute(delete(UserStickerPack).where(col(UserStickerPack.pack_id) == pack_id))


async def collection_size(session: AsyncSession, user_id: int) -> int:
    rows = await session.execute(select(func.count()).where(col(UserStickerPack.user_id) == user_id))
    return int(rows.scalar_one())
