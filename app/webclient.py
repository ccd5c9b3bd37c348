"""The built-in web client at /app/: one HTML page and the ES modules it loads.

The client lives in ``app/static/webclient`` as plain ES modules (our code) and
``vendor/`` (Preact, htm and the graphql-ws client, pinned and copied by
``scripts/vendor_web_client.sh``). There is no build step: the browser loads the files as
they are, all from this server, under a strict Content-Security-Policy (no inline script,
no inline style, no other host), so the page works offline and cannot be made to run
injected markup. The page's settings travel in a non-executable JSON block.

Typical wiring (see app/asgi.py)::

    routes += web_client_routes(PageConfig.of(settings, graphql_path="/graphql", files_enabled=False))
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from app.config import Settings
from app.files.storage import presigned_origin

__all__ = [
    "CSP",
    "MOUNT_PATH",
    "STATIC_DIR",
    "PageConfig",
    "content_security_policy",
    "render_page",
    "web_client_routes",
]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static" / "webclient"
MOUNT_PATH = "/app"
STATIC_PATH = "/app/static"

FILES_PATH = "/api/app/files/"


def content_security_policy(files_url: str | None = None, redirect_origins: tuple[str, ...] = ()) -> str:
    """Everything from our own origin, nothing inline. `connect-src 'self'` also covers the
    WebSocket to /graphql on the same host and port (CSP Level 3). Images may be data: or
    blob: URLs (the preview of a picture being uploaded).

    `files_url` is the files door on the service port (`<base>/api/app/files/`, another
    origin: another port): the page may send uploads there (tus: connect-src), show
    images from there (thumbnails, avatars, stickers: img-src) and play audio and video
    from there (media-src), and nothing else of that origin; downloads are plain links
    (navigation, which CSP does not restrict). `redirect_origins` are the S3 endpoints
    that downloads from a source with `presigned_redirect` answer with a 302 to: the
    browser checks the redirect's target against img-src and media-src too."""
    extra = f" {files_url}" if files_url else ""
    shown = extra + "".join(f" {origin}" for origin in redirect_origins)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob:{shown}",
            f"media-src 'self' blob:{shown}",
            "font-src 'self'",
            f"connect-src 'self'{extra}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CSP = content_security_policy()
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

# "<" could close the JSON <script> block; U+2028/2029 are line ends for old engines.
_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@functools.cache
def _template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


@dataclass(frozen=True)
class PageConfig:
    """What the client needs to know of the server's settings."""

    graphql_path: str
    files_enabled: bool
    reaction_emoji: tuple[str, ...]
    revoke_window_seconds: int
    # Size limits (bytes) the page checks before it asks for an upload (the server checks
    # them again): upload (any file), image, avatar.
    file_limits: dict[str, int] = field(default_factory=dict)
    # host the browser called -> base URL of the service port (FileService.base_url), for
    # the CSP; None when the server has no files.
    files_base: Callable[[str | None], str] | None = field(default=None, compare=False)
    # Where downloads may redirect to (S3 sources with presigned_redirect).
    redirect_origins: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        settings: Settings,
        *,
        graphql_path: str,
        files_enabled: bool,
        files_base: Callable[[str | None], str] | None = None,
    ) -> PageConfig:
        f = settings.file
        return cls(
            graphql_path=graphql_path,
            files_enabled=files_enabled,
            reaction_emoji=tuple(settings.messaging.reaction_emoji),
            revoke_window_seconds=settings.security.revoke_window_seconds,
            file_limits={
                "upload": f.max_upload_bytes,
                "image": min(f.max_upload_bytes, f.max_image_bytes),
                "audio": min(f.max_upload_bytes, f.max_audio_bytes),
                "video": min(f.max_upload_bytes, f.max_video_bytes),
                "avatar": min(f.max_upload_bytes, f.max_avatar_bytes),
            },
            files_base=files_base if files_enabled else None,
            redirect_origins=tuple(
                dict.fromkeys(o for o in map(presigned_origin, f.storage_sources) if o is not None)
            )
            if files_enabled
            else (),
        )

    def csp_for(self, host: str | None) -> str:
        """The page's policy for a browser that called `host`."""
        if self.files_base is None:
            return CSP
        return content_security_policy(self.files_base(host) + FILES_PATH, self.redirect_origins)


def _host_name(request: Request) -> str | None:
    """The host the browser called, without the port (`[::1]` keeps its brackets); the
    files door's base_url checks it before it goes anywhere near a header."""
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] or None


def render_page(config: PageConfig) -> str:
    """The client's HTML page, with its settings as a JSON block the modules read."""
    data = {
        "graphqlPath": config.graphql_path,
        "staticPath": STATIC_PATH,
        "filesEnabled": config.files_enabled,
        "fileLimits": config.file_limits,
        "reactionEmoji": list(config.reaction_emoji),
        "revokeWindowSeconds": config.revoke_window_seconds,
    }
    block = json.dumps(data, ensure_ascii=True, sort_keys=True).translate(_SCRIPT_UNSAFE)
    return _template().replace("{{CONFIG}}", block).replace("{{STATIC}}", STATIC_PATH)


class _StaticWithHeaders:
    """StaticFiles that adds the security headers (a module served as the wrong type, or
    framed by another site, must not run)."""

    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                # Our modules change with releases and have no hashed names: revalidate.
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.files(scope, receive, send_with_headers)


def web_client_routes(config: PageConfig) -> list[BaseRoute]:
    """`/app/` (the page), `/app` (redirect) and `/app/static/...` (its modules)."""
    page = render_page(config)

    async def index(request: Request) -> Response:
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": config.csp_for(_host_name(request))}
        return HTMLResponse(page, headers={**headers, "Cache-Control": "no-cache"})

    async def redirect(_: Request) -> Response:
        return RedirectResponse(f"{MOUNT_PATH}/", status_code=308)

    return [
        Route(MOUNT_PATH, redirect, methods=["GET", "HEAD"]),
        Route(f"{MOUNT_PATH}/", index, methods=["GET", "HEAD"]),
        Mount(STATIC_PATH, app=_StaticWithHeaders(STATIC_DIR)),
    ]
