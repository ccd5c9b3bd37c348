"""File SQL: no policy, no events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.tables import User
from app.channels.tables import Channel, ChannelMember
from app.db.upsert import insert_for
from app.files.tables import FileBlob, FileRef, StoredFile
from app.messaging.tables import Message
from app.stickers.tables import Sticker, StickerPack

LIVE = ("pending", "ready")


# -- files ----------------------------------------------------------------------------------


async def insert_file(session: AsyncSession, record: StoredFile) -> StoredFile:
    session.add(record)
    await session.flush()
    return record


async def get_file(session: AsyncSession, file_id: str, *, lock: bool = False) -> StoredFile | None:
    query = select(StoredFile).where(col(StoredFile.id) == file_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def files_by_id(session: AsyncSession, file_ids: Iterable[str]) -> dict[str, StoredFile]:
    ids = sorted(set(file_ids))
    if not ids:
        return {}
    rows = await session.execute(select(StoredFile).where(col(StoredFile.id).in_(ids)))
    return {f.id: f for f in rows.scalars().all()}


async def update_file(session: AsyncSession, file_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(StoredFile).where(col(StoredFile.id) == file_id).values(**values))


async def settle_pending_file(session: AsyncSession, file_id: str, values: dict[str, Any]) -> bool:
    """Update an upload that is still pending; False when it is not (published or refused
    meanwhile, or gone)."""
    result = await session.execute(
        update(StoredFile)
        .where(col(StoredFile.id) == file_id, col(StoredFile.status) == "pending")
        .values(**values)
        .returning(col(StoredFile.id))
    )
    return result.scalar_one_or_none() is not None


async def delete_files(session: AsyncSession, file_ids: Sequence[str]) -> None:
    if file_ids:
        await session.execute(delete(StoredFile).where(col(StoredFile.id).in_(list(file_ids))))


async def usage_of(session: AsyncSession, owner_id: int) -> int:
    """Bytes a user has stored or is uploading (declared sizes until known)."""
    total = await session.execute(
        select(func.coalesce(func.sum(func.coalesce(col(StoredFile.size), col(StoredFile.declared_size))), 0)).where(
            col(StoredFile.owner_id) == owner_id, col(StoredFile.status).in_(LIVE)
        )
    )
    return int(total.scalar_one())


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Serialise one user's quota checks (PostgreSQL; SQLite has one writer anyway)."""
    await session.execute(select(col(User.id)).where(col(User.id) == user_id).with_for_update(key_share=True))


# -- blobs ----------------------------------------------------------------------------------


async def find_blob(session: AsyncSession, source_id: int, sha256: str) -> FileBlob | None:
    rows = await session.execute(
        select(FileBlob).where(col(FileBlob.source_id) == source_id, col(FileBlob.sha256) == sha256)
    )
    return rows.scalar_one_or_none()


async def insert_blob(
    session: AsyncSession, *, source_id: int, sha256: str, size: int, key: str, at: int
) -> int | None:
    """A new blob with one reference; None when the same content was stored meanwhile."""
    statement = (
        insert_for(session, FileBlob)
        .values(source_id=source_id, sha256=sha256, size=size, key=key, ref_count=1, created_at=at)
        .on_conflict_do_nothing(index_elements=["source_id", "sha256"])
        .returning(col(FileBlob.id))
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def add_blob_refs(session: AsyncSession, blob_id: int, delta: int) -> int | None:
    """Change a blob's reference count; its new count, or None when the blob is gone."""
    result = await session.execute(
        update(FileBlob)
        .where(col(FileBlob.id) == blob_id)
        .values(ref_count=col(FileBlob.ref_count) + delta)
        .returning(col(FileBlob.ref_count))
    )
    return result.scalar_one_or_none()


async def add_ref_if_live(session: AsyncSession, blob_id: int) -> bool:
    """One more reference to a blob still in use. A blob at zero may be being deleted by
    the sweeper: it is not revived (the caller stores the bytes anew)."""
    result = await session.execute(
        update(FileBlob)
        .where(col(FileBlob.id) == blob_id, col(FileBlob.ref_count) > 0)
        .values(ref_count=col(FileBlob.ref_count) + 1)
        .returning(col(FileBlob.id))
    )
    return result.scalar_one_or_none() is not None


async def adopt_blob(session: AsyncSession, blob_id: int, key: str) -> bool:
    """Give an unused blob (being deleted) freshly stored bytes under a new key: the
    sweeper then deletes only the old key, and keeps the row."""
    result = await session.execute(
        update(FileBlob)
        .where(col(FileBlob.id) == blob_id, col(FileBlob.ref_count) <= 0)
        .values(ref_count=1, key=key)
        .returning(col(FileBlob.id))
    )
    return result.scalar_one_or_none() is not None


async def get_blob(session: AsyncSession, blob_id: int) -> FileBlob | None:
    return await session.get(FileBlob, blob_id)


async def unused_blobs(session: AsyncSession, limit: int) -> list[FileBlob]:
    rows = await session.execute(select(FileBlob).where(col(FileBlob.ref_count) <= 0).limit(limit))
    return list(rows.scalars().all())


async def delete_unused_blob(session: AsyncSession, blob_id: int, key: str) -> bool:
    """Remove the row of a blob whose bytes were deleted, unless it was adopted meanwhile."""
    result = await session.execute(
        delete(FileBlob)
        .where(col(FileBlob.id) == blob_id, col(FileBlob.ref_count) <= 0, col(FileBlob.key) == key)
        .returning(col(FileBlob.id))
    )
    return result.scalar_one_or_none() is not None


# -- references -----------------------------------------------------------------------------


async def insert_refs(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(
            insert_for(session, FileRef)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["file_id", "kind", "target_id"])
        )


async def delete_refs(
    session: AsyncSession, *, kind: str, target_ids: Sequence[int], file_ids: Sequence[str] | None = None
) -> list[str]:
    """Remove references; the ids of the files they pointed at."""
    if not target_ids:
        return []
    where = [col(FileRef.kind) == kind, col(FileRef.target_id).in_(list(target_ids))]
    if file_ids is not None:
        where.append(col(FileRef.file_id).in_(list(file_ids)))
    result = await session.execute(delete(FileRef).where(*where).returning(col(FileRef.file_id)))
    return sorted({row[0] for row in result.all()})


async def mark_released_if_unreferenced(session: AsyncSession, file_ids: Sequence[str], at: int) -> None:
    """Files whose last reference went: the sweeper deletes them (and their thumbnails)."""
    if not file_ids:
        return
    still_used = exists().where(col(FileRef.file_id) == col(StoredFile.id))
    await session.execute(
        update(StoredFile)
        .where(col(StoredFile.id).in_(list(file_ids)), ~still_used, col(StoredFile.released_at).is_(None))
        .values(released_at=at)
        .execution_options(synchronize_session=False)
    )


# -- access ---------------------------------------------------------------------------------


def visible_message_ref(file_id: Any, user_id: int) -> Any:
    """EXISTS: a message that is not revoked refers to the file, and the user is a member of
    its live channel who can see it (joined before it or with history visible, not left)."""
    return (
        select(1)
        .select_from(FileRef)
        .join(Message, col(Message.id) == col(FileRef.target_id))
        .join(
            ChannelMember,
            and_(col(ChannelMember.channel_id) == col(Message.channel_id), col(ChannelMember.user_id) == user_id),
        )
        .join(Channel, col(Channel.id) == col(Message.channel_id))
        .where(
            col(FileRef.file_id) == file_id,
            col(FileRef.kind) == "message",
            col(Message.revoked_at).is_(None),
            col(ChannelMember.left_at).is_(None),
            col(ChannelMember.visible_from_pts) < col(Message.pts),
            col(Channel.deleted_at).is_(None),
        )
        .exists()
    )


async def message_file_visible(session: AsyncSession, file_id: str, user_id: int) -> bool:
    return bool((await session.execute(select(visible_message_ref(file_id, user_id)))).scalar())


async def group_avatar_visible(session: AsyncSession, file_id: str, user_id: int) -> bool:
    query = select(
        select(1)
        .select_from(FileRef)
        .join(
            ChannelMember,
            and_(col(ChannelMember.channel_id) == col(FileRef.target_id), col(ChannelMember.user_id) == user_id),
        )
        .join(Channel, col(Channel.id) == col(FileRef.target_id))
        .where(
            col(FileRef.file_id) == file_id,
            col(FileRef.kind) == "group_avatar",
            col(ChannelMember.left_at).is_(None),
            col(Channel.deleted_at).is_(None),
        )
        .exists()
    )
    return bool((await session.execute(query)).scalar())


async def user_avatar_in_use(session: AsyncSession, file_id: str) -> bool:
    query = select(
        select(1)
        .select_from(FileRef)
        .join(User, col(User.id) == col(FileRef.target_id))
        .where(col(FileRef.file_id) == file_id, col(FileRef.kind) == "user_avatar", col(User.disabled).is_(False))
        .exists()
    )
    return bool((await session.execute(query)).scalar())


async def sticker_published(session: AsyncSession, file_id: str) -> bool:
    """The file is a sticker or a cover of a published, not deleted pack."""
    in_pack = or_(
        col(StickerPack.cover_file_id) == file_id,
        exists().where(col(Sticker.pack_id) == col(StickerPack.id), col(Sticker.file_id) == file_id),
    )
    query = select(
        select(1)
        .select_from(StickerPack)
        .where(in_pack, col(StickerPack.published_at).is_not(None), col(StickerPack.deleted_at).is_(None))
        .exists()
    )
    return bool((await session.execute(query)).scalar())


async def attachment_rows(
    session: AsyncSession, file_ids: Sequence[str], user_id: int
) -> list[tuple[StoredFile, bool]]:
    """The files a message would attach, each with whether the sender may re-send it
    (it is attached to a message the sender can see): one query."""
    rows = await session.execute(
        select(StoredFile, visible_message_ref(col(StoredFile.id), user_id)).where(
            col(StoredFile.id).in_(list(file_ids))
        )
    )
    return [(f, bool(visible)) for f, visible in rows.all()]


# -- lifecycle ------------------------------------------------------------------------------


async def expired_uploads(session: AsyncSession, now: int, limit: int) -> list[StoredFile]:
    rows = await session.execute(
        select(StoredFile)
        .where(col(StoredFile.status).in_(("pending", "failed")), col(StoredFile.expires_at) <= now)
        .limit(limit)
    )
    return list(rows.scalars().all())


async def collectable_files(session: AsyncSession, *, unattached_before: int, limit: int) -> list[StoredFile]:
    """Ready files nothing refers to that were either released (their last reference went)
    or never attached within the grace period. Generated thumbnails go with their original."""
    unreferenced = ~exists().where(col(FileRef.file_id) == col(StoredFile.id))
    rows = await session.execute(
        select(StoredFile)
        .where(
            col(StoredFile.status) == "ready",
            col(StoredFile.parent_id).is_(None),
            unreferenced,
            or_(col(StoredFile.released_at).is_not(None), col(StoredFile.completed_at) <= unattached_before),
            # Sticker images and covers are referenced by their pack, not by file_refs.
            ~exists().where(col(Sticker.file_id) == col(StoredFile.id)),
            ~exists().where(col(StickerPack.cover_file_id) == col(StoredFile.id)),
        )
        .limit(limit)
    )
    return list(rows.scalars().all())


async def children_of(session: AsyncSession, file_ids: Sequence[str]) -> list[StoredFile]:
    if not file_ids:
        return []
    rows = await session.execute(select(StoredFile).where(col(StoredFile.parent_id).in_(list(file_ids))))
    return list(rows.scalars().all())


async def usage_report(session: AsyncSession, *, user_id: int | None, limit: int) -> list[tuple[int, int, int, int]]:
    """(owner, source, files, bytes) of ready files, largest users first."""
    total = func.sum(col(StoredFile.size))
    query = (
        select(col(StoredFile.owner_id), col(StoredFile.source_id), func.count(), total)
        .where(col(StoredFile.status) == "ready")
        .group_by(col(StoredFile.owner_id), col(StoredFile.source_id))
        .order_by(total.desc(), col(StoredFile.owner_id))
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(col(StoredFile.owner_id) == user_id)
    rows = await session.execute(query)
    return [(int(o), int(s), int(n), int(b or 0)) for o, s, n, b in rows.all()]


async def source_totals(session: AsyncSession) -> list[tuple[int, int, int]]:
    """(source, blobs, bytes) actually stored: each content once."""
    rows = await session.execute(
        select(col(FileBlob.source_id), func.count(), func.sum(col(FileBlob.size))).group_by(col(FileBlob.source_id))
    )
    return [(int(s), int(n), int(b or 0)) for s, n, b in rows.all()]


async def pending_totals(session: AsyncSession) -> tuple[int, int]:
    rows = await session.execute(
        select(func.count(), func.coalesce(func.sum(col(StoredFile.declared_size)), 0)).where(
            col(StoredFile.status) == "pending"
        )
    )
    count, size = rows.one()
    return int(count), int(size)
