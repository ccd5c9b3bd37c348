"""Self-hosted GraphiQL: the HTML page and the static assets it loads.

Everything GraphiQL needs (React, ReactDOM, GraphiQL, graphql-ws, CSS with inlined
fonts) is vendored under ``app/static/graphiql`` (versions in ``VERSIONS.txt``), so
the IDE works offline and under a strict Content-Security-Policy: the page makes no
request to any host other than the one serving it.

Typical wiring::

    routes = [
        Mount("/graphql/static", app=static_app(), name="graphiql-static"),
        ...
    ]
    html = render_graphiql(graphql_path="/graphql", static_prefix="/graphql/static")
"""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path

from starlette.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "TEMPLATE_PATH", "render_graphiql", "static_app"]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static" / "graphiql"
TEMPLATE_PATH: Path = STATIC_DIR / "index.html"

_STATIC_PREFIX_PLACEHOLDER = "{{STATIC_PREFIX}}"
_GRAPHQL_PATH_PLACEHOLDER = "{{GRAPHQL_PATH}}"

# Characters that must not appear verbatim inside a <script> element, even a JSON one:
# "<" could start "</script>" or "<!--", ">" and "&" for good measure, and U+2028/U+2029
# (line terminators in older JavaScript engines).
_SCRIPT_UNSAFE = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


@functools.cache
def _template() -> str:
    """The page template, read from disk once per process."""
    return TEMPLATE_PATH.read_text(encoding="utf-8")


def _check_root_relative(name: str, value: str) -> None:
    # The page must only reference our own origin: reject absolute URLs and
    # protocol-relative ones ("//cdn.example"), which would point at another host.
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        raise ValueError(f"{name} must be a root-relative path such as '/graphql', got {value!r}")
    if any(ch in value for ch in "\r\n\t\0"):
        raise ValueError(f"{name} must not contain control characters, got {value!r}")


def _json_for_script(value: str) -> str:
    """A JSON string literal that is safe to embed inside a <script> element."""
    return json.dumps(value, ensure_ascii=True).translate(_SCRIPT_UNSAFE)


def render_graphiql(*, graphql_path: str, static_prefix: str) -> str:
    """Return the GraphiQL HTML page.

    ``graphql_path`` is the root-relative path of the GraphQL endpoint (used for both
    HTTP and WebSocket, the scheme and host are taken from ``window.location``);
    ``static_prefix`` is the root-relative URL under which :func:`static_app` is
    mounted. Both are escaped for the context they land in: the prefix is
    HTML-attribute-escaped, the endpoint path is emitted as a JSON string literal.
    """
    _check_root_relative("graphql_path", graphql_path)
    _check_root_relative("static_prefix", static_prefix)
    prefix = static_prefix.rstrip("/")
    return (
        _template()
        .replace(_STATIC_PREFIX_PLACEHOLDER, html.escape(prefix, quote=True))
        .replace(_GRAPHQL_PATH_PLACEHOLDER, _json_for_script(graphql_path))
    )


def static_app() -> StaticFiles:
    """An ASGI app serving the vendored GraphiQL assets (mount it at ``static_prefix``)."""
    return StaticFiles(directory=STATIC_DIR)
