"""What uploaded bytes really are, and what is made of images: sniffing, decoding with a
pixel limit, metadata stripping, thumbnails and blurhashes.

Plain synchronous functions on file paths (run in a worker thread by the service): no
database, no network. Every refusal is a `MediaError` whose message is safe to show.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import blurhash
import filetype
import mutagen
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# A truncated image is refused, never half-decoded.
ImageFile.LOAD_TRUNCATED_IMAGES = False

SNIFF_BYTES = 8192
ORIENTATION = 0x0112  # the EXIF tag
# Formats Pillow decodes that we accept as images, with their media types.
IMAGE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "MPO": "image/jpeg",
}
# Spellings clients use for the same type.
MIME_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-flac": "audio/flac",
    "video/x-m4v": "video/mp4",
}
MEDIA_KINDS = ("image", "audio", "video")
# Containers that hold audio or video alike: a voice note in MP4/WebM/Ogg is fine either way.
AV_CONTAINERS = {"mp4", "webm", "ogg", "3gpp", "quicktime", "x-matroska"}
ZIP = "application/zip"


class MediaError(Exception):
    """The bytes are refused; the message says why."""


def normalise_mime(mime: str) -> str:
    base = mime.split(";", 1)[0].strip().lower()
    return MIME_ALIASES.get(base, base)


def media_kind(mime: str) -> str:
    major = mime.split("/", 1)[0]
    return major if major in MEDIA_KINDS else "file"


def sniff(path: Path) -> str | None:
    """The media type the bytes themselves say, or None when nothing is recognised."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    kind = filetype.guess(head)
    return normalise_mime(kind.mime) if kind is not None else None


def reconcile(declared: str, sniffed: str | None) -> str:
    """The stored media type, or MediaError when the bytes contradict the declared type.

    An image, audio or video declaration needs bytes of that kind (images: of that very
    format). Other declarations may not hide media (`application/pdf` holding a PNG is
    refused) but are kept when the bytes say nothing or are a ZIP container (office
    documents, archives). `application/octet-stream` takes what the bytes say."""
    declared = normalise_mime(declared)
    kind = media_kind(declared)
    if kind != "file":
        if sniffed is None or not _same_media(declared, sniffed):
            found = sniffed or "unrecognised data"
            raise MediaError(f"the bytes are {found}, not {declared}")
        return sniffed if kind == "image" else declared
    if sniffed is None:
        return declared
    if declared == "application/octet-stream":
        return sniffed
    if media_kind(sniffed) != "file":
        raise MediaError(f"the bytes are {sniffed}, not {declared}: declare the real type")
    if sniffed == ZIP or sniffed == declared:
        return declared
    raise MediaError(f"the bytes are {sniffed}, not {declared}")


def _same_media(declared: str, sniffed: str) -> bool:
    d_major, _, d_sub = declared.partition("/")
    s_major, _, s_sub = sniffed.partition("/")
    if d_major == "image":
        return sniffed == declared
    if d_major == s_major:
        return True
    return {d_major, s_major} <= {"audio", "video"} and d_sub in AV_CONTAINERS and s_sub in AV_CONTAINERS


@dataclass(frozen=True, slots=True)
class ImageFacts:
    mime: str
    width: int
    height: int
    animated: bool
    # A copy without metadata was written (the original had EXIF/XMP/comments).
    stripped: bool


def inspect_image(path: Path, *, max_pixels: int, strip_to: Path | None) -> ImageFacts:
    """Decode the image fully (a truncated or corrupt one is refused), refuse more than
    `max_pixels`, and, when `strip_to` is given and the image carries metadata, write a
    copy without it there (EXIF orientation applied first, so nothing turns sideways)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt = im.format or ""
                if fmt not in IMAGE_FORMATS:
                    raise MediaError(f"unsupported image format {fmt or 'unknown'}")
                frames = getattr(im, "n_frames", 1)
                if im.width * im.height > max_pixels or im.width * im.height * frames > max_pixels * 4:
                    raise MediaError(f"the image has more than {max_pixels} pixels")
                im.load()
                if frames > 1:
                    for index in range(1, frames):
                        im.seek(index)
                        im.load()
                    im.seek(0)
                    return ImageFacts(IMAGE_FORMATS[fmt], im.width, im.height, True, False)
                if strip_to is not None and _has_metadata(im):
                    turned = im.getexif().get(ORIENTATION, 1) not in (0, 1)
                    upright = ImageOps.exif_transpose(im) if turned else im
                    _save_without_metadata(upright, im, fmt, strip_to)
                    return ImageFacts(IMAGE_FORMATS[fmt], upright.width, upright.height, False, True)
                return ImageFacts(IMAGE_FORMATS[fmt], im.width, im.height, False, False)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(f"the image has more than {max_pixels} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(f"the image cannot be decoded (truncated or corrupt): {_short(exc)}") from None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def _has_metadata(im: Image.Image) -> bool:
    info = im.info
    if any(key in info for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop")):
        return True
    if im.format == "PNG" and any(key not in ("dpi", "gamma", "transparency", "icc_profile", "srgb") for key in info):
        return True  # tEXt/iTXt chunks
    return bool(im.getexif())


def _save_without_metadata(upright: Image.Image, original: Image.Image, fmt: str, target: Path) -> None:
    icc = original.info.get("icc_profile")
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if fmt in ("JPEG", "MPO"):
        image = upright if upright.mode in ("RGB", "L", "CMYK") else upright.convert("RGB")
        # Same quantisation tables when the pixels did not move: no visible generation loss.
        quality: object = "keep" if upright is original and original.format == "JPEG" else 92
        image.save(target, "JPEG", quality=quality, **options)
    elif fmt == "PNG":
        upright.save(target, "PNG", **options)
    elif fmt == "WEBP":
        lossless = original.info.get("lossless", False)
        upright.save(target, "WEBP", quality=92, lossless=bool(lossless), **options)
    else:  # pragma: no cover - IMAGE_FORMATS lists what is handled
        raise MediaError(f"cannot strip metadata from {fmt}")


def duration_ms(path: Path) -> int | None:
    """The play time of an audio (or MP4/Ogg video) file, when its container says; None when
    the format is not one mutagen reads or the header is broken (the client's value stands)."""
    try:
        found = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError, struct.error):
        return None
    length = getattr(getattr(found, "info", None), "length", None)
    if not isinstance(length, int | float) or not 0 < length < 24 * 3600:
        return None
    return round(length * 1000)


@dataclass(frozen=True, slots=True)
class Thumbnail:
    width: int
    height: int
    blurhash: str


def make_thumbnail(path: Path, target: Path, *, size: int) -> Thumbnail:
    """A JPEG of at most size x size px (first frame, upright, transparency on white) and
    the blurhash of the image."""
    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("RGB", (size * 2, size * 2))  # decode at a fraction of the size: much faster
        im.seek(0)
        upright = ImageOps.exif_transpose(im)
        upright.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
        rgb = _on_white(upright)
        rgb.save(target, "JPEG", quality=82, optimize=True)
        small = rgb.copy()
        small.thumbnail((32, 32), Image.Resampling.BILINEAR)
        raw = small.tobytes()  # RGB, row by row
        w = small.width
        rows = [[list(raw[(y * w + x) * 3 : (y * w + x) * 3 + 3]) for x in range(w)] for y in range(small.height)]
        x_components, y_components = (4, 3) if rgb.width >= rgb.height else (3, 4)
        return Thumbnail(rgb.width, rgb.height, blurhash.encode(rows, x_components, y_components))


def _on_white(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")
