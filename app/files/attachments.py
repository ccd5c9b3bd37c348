"""What the send path asks of files: the rules of image, audio, video, file and sticker
messages (implements `AttachmentRules` of app/messaging/policy.py).

`check_send` runs inside the sending transaction, in one query: every named file must
exist, be published (ready), be a message attachment (or a generated thumbnail), and be
the sender's own upload or one attached to a message the sender can see now (re-sending
what one received). Unknown and foreign files alike are NOT_FOUND. The server's facts
win over the client's: an image's width/height, thumbnail and blurhash, a file's size and
type come from the stored file. Stickers must be in a published pack.

`attach` records which message uses which files (for access checks and reference
counting) and `detach` drops that when a message is revoked: its files become
unreachable at once and are deleted when nothing else uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input
from app.files import store
from app.files.service import FILE_ID_RE
from app.files.tables import StoredFile
from app.messaging.views import MessageRecord
from app.stickers import store as sticker_store

FILE_TYPES = frozenset({"image", "audio", "video", "file"})
# Which stored kinds each message type accepts.
ACCEPTS = {"image": ("image",), "audio": ("audio", "video"), "video": ("video",), "file": None}


class Attachments:
    kinds = FILE_TYPES | {"sticker"}

    async def check_send(
        self, session: AsyncSession, sender_id: int, kind: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        if kind == "sticker":
            return await self._check_sticker(session, content)
        file_id = content["fileId"]
        thumb_id = content.get("thumbnailFileId")
        for field, value in (("fileId", file_id), ("thumbnailFileId", thumb_id)):
            if value is not None and not FILE_ID_RE.match(value):
                raise AppError(ErrorCode.NOT_FOUND, "file not found", field=field)
        wanted = [file_id] + ([thumb_id] if thumb_id else [])
        rows = {f.id: (f, visible) for f, visible in await store.attachment_rows(session, wanted, sender_id)}
        record = _usable(rows.get(file_id), sender_id, "fileId")
        accepted = ACCEPTS[kind]
        if record.purpose != "message":
            raise bad_input(
                f"fileId was uploaded as a {record.purpose.replace('_', ' ')}, not for messages", field="fileId"
            )
        if accepted is not None and record.media_kind not in accepted:
            raise bad_input(f"fileId is a {record.media_kind} file, not a {kind}", field="fileId")
        out = dict(content)
        if thumb_id:
            thumb = _usable(rows.get(thumb_id), sender_id, "thumbnailFileId")
            if thumb.media_kind != "image" or thumb.purpose not in ("message", "thumbnail"):
                raise bad_input("thumbnailFileId must be an image", field="thumbnailFileId")
        if kind == "image":
            out.update(width=record.width, height=record.height)
            if record.thumbnail_id and not thumb_id:
                out["thumbnailFileId"] = record.thumbnail_id
            if record.blurhash:
                out["blurhash"] = record.blurhash
        if kind in ("audio", "video") and record.duration_ms:
            out["durationMs"] = record.duration_ms  # what the container says, not the client
        if kind in ("image", "audio", "video", "file"):
            out["size"] = record.size
            out["mimeType"] = record.mime
        return {k: v for k, v in out.items() if v is not None}

    async def _check_sticker(self, session: AsyncSession, content: dict[str, Any]) -> dict[str, Any]:
        pack_id, sticker_id = content.get("packageId"), content.get("stickerId")
        if not (
            isinstance(pack_id, str) and pack_id.isdigit() and isinstance(sticker_id, str) and sticker_id.isdigit()
        ):
            raise AppError(ErrorCode.NOT_FOUND, "sticker not found", field="stickerId")
        found = await sticker_store.published_sticker(session, int(pack_id), int(sticker_id))
        if found is None:
            raise AppError(ErrorCode.NOT_FOUND, "sticker not found", field="stickerId")
        out = {"packageId": pack_id, "stickerId": sticker_id, "fileId": found.file_id}
        if found.emoji:
            out["emoji"] = found.emoji
        return out

    async def attach(self, session: AsyncSession, messages: Sequence[MessageRecord]) -> None:
        """One INSERT for the files of all the messages (a send, or a forward's copies)."""
        at = now_ms()
        rows = []
        for message in messages:
            if message.type not in FILE_TYPES or message.id is None:
                continue
            ids = [message.content.get("fileId"), message.content.get("thumbnailFileId")]
            rows += [
                {
                    "file_id": i,
                    "kind": "message",
                    "target_id": message.id,
                    "channel_id": message.channel_id,
                    "created_at": at,
                }
                for i in dict.fromkeys(ids)
                if isinstance(i, str)
            ]
        await store.insert_refs(session, rows)

    async def detach(self, session: AsyncSession, message_id: int) -> None:
        released = await store.delete_refs(session, kind="message", target_ids=[message_id])
        await store.mark_released_if_unreferenced(session, released, now_ms())


def _usable(row: tuple[StoredFile, bool] | None, sender_id: int, field: str) -> StoredFile:
    if row is None:
        raise AppError(ErrorCode.NOT_FOUND, "file not found", field=field)
    record, visible = row
    if record.owner_id != sender_id and not visible:
        raise AppError(ErrorCode.NOT_FOUND, "file not found", field=field)
    if record.status != "ready":
        raise bad_input(f"{field}: the upload is not complete", field=field)
    return record
