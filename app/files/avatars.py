"""Avatars by file id, for profiles and groups: the file must be the actor's own
published image uploaded as that kind of avatar; setting one references it and releases
the one it replaces (deleted by the sweeper when nothing else uses it)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input
from app.files import store
from app.files.service import FILE_ID_RE

FIELD = "avatarFileId"


class Avatars:
    async def check(self, session: AsyncSession, *, owner_id: int, file_id: str, purpose: str) -> str:
        """Raise unless `file_id` may become an avatar of `purpose` set by `owner_id`."""
        if not FILE_ID_RE.match(file_id):
            raise AppError(ErrorCode.NOT_FOUND, "file not found", field=FIELD)
        record = await store.get_file(session, file_id)
        if record is None or record.owner_id != owner_id:
            raise AppError(ErrorCode.NOT_FOUND, "file not found", field=FIELD)
        if record.status != "ready":
            raise bad_input("the avatar's upload is not complete", field=FIELD)
        if record.purpose != purpose or record.media_kind != "image":
            raise bad_input(f"{FIELD} must be an image uploaded with purpose {purpose.upper()}", field=FIELD)
        return file_id

    async def replace(
        self, session: AsyncSession, *, kind: str, target_id: int, old: str | None, new: str | None
    ) -> None:
        """Move the avatar reference of a user or group from `old` to `new` (either may be None)."""
        if old == new:
            return
        at = now_ms()
        if old is not None:
            released = await store.delete_refs(session, kind=kind, target_ids=[target_id], file_ids=[old])
            await store.mark_released_if_unreferenced(session, released, at)
        if new is not None:
            await store.insert_refs(
                session, [{"file_id": new, "kind": kind, "target_id": target_id, "channel_id": None, "created_at": at}]
            )
