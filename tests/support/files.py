"""Real media bytes made on the spot, and uploads through the file service."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import AsyncIterator
from typing import Any

from PIL import Image

from app.files.tables import StoredFile
from app.runtime import Services
from tests.support.factories import Account

GPS_IFD = 0x8825


def jpeg(
    width: int = 64, height: int = 48, *, gps: bool = False, orientation: int | None = None, color=(200, 30, 30)
) -> bytes:
    """A JPEG, optionally with EXIF (camera make, GPS position, orientation)."""
    image = Image.new("RGB", (width, height), color)
    for x in range(width // 2):
        image.putpixel((x, x * height // width), (0, 0, 255))
    exif = Image.Exif()
    if gps or orientation is not None:
        exif[0x010F] = "PrivChat Camera"  # Make
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    if orientation is not None:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes() if len(exif) else b"")
    return out.getvalue()


def png(width: int = 32, height: int = 32, *, alpha: bool = False) -> bytes:
    image = Image.new("RGBA" if alpha else "RGB", (width, height), (10, 200, 10, 128) if alpha else (10, 200, 10))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def wav(milliseconds: int = 200) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * (8 * milliseconds))
    return out.getvalue()


def mp4(size: int = 4096) -> bytes:
    """The start of an MP4 (an `ftyp` box) followed by padding: enough for type sniffing."""
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2avc1mp41"
    box = struct.pack(">I", 8 + len(ftyp)) + ftyp
    return box + b"\x00" * (size - len(box))


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


async def chunks_of(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def upload(
    services: Services, who: Account, data: bytes, *, name: str = "f.bin", mime: str, purpose: str = "message"
) -> StoredFile:
    return await services.files.upload_small(
        who.principal, name=name, mime=mime, purpose=purpose, size=len(data), chunks=chunks_of(data)
    )


async def sticker_pack(services: Services, uploader: Account, *, count: int = 2, publish: bool = True) -> Any:
    """A sticker pack of `count` PNG stickers uploaded by `uploader`, created (and
    published) the way an administrator does."""
    from app.stickers.service import StickerSpec

    images = [
        await upload(services, uploader, png(64, 64), name=f"s{i}.png", mime="image/png", purpose="sticker")
        for i in range(count)
    ]
    view = await services.stickers.create_pack(
        uploader.user_id,
        name="Cats",
        description=None,
        cover_file_id=images[0].id,
        stickers=[StickerSpec(file_id=f.id, emoji="😺") for f in images],
    )
    if publish:
        assert view.pack.id is not None
        view = await services.stickers.publish_pack(view.pack.id, published=True)
    return view
