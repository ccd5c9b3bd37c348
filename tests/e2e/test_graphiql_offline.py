"""GraphiQL is fully self-hosted: it renders in a real browser and loads nothing from other hosts.

Drives headless Chromium through ``tests/e2e/graphiql_check.js`` (playwright-core, no
browser download). Prerequisites, installed by ``scripts/install_browser_deps.sh``:

* Chromium at ``/usr/bin/chromium`` (override with ``PRIVCHAT_CHROMIUM``);
* ``node`` >= 18 on ``PATH``;
* ``playwright-core`` under ``$PRIVCHAT_PLAYWRIGHT_DIR/node_modules`` (default
  ``<repo>/.cache/playwright``).

Each test skips with the reason when one of them is missing.

``test_graphiql_offline`` runs against a minimal local server built from
``app/graphiql.py`` only (fixture ``graphiql_server``), which also sends a strict
Content-Security-Policy, so it checks CSP compatibility too.
``test_graphiql_offline_live_server`` runs the same check against the project's real
server through the ``live_server`` fixture (tests/e2e/conftest.py; its object's
``ws_url_base`` or ``base_url``, e.g. ``"http://127.0.0.1:PORT"``); it skips where no
such fixture is defined.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().with_name("graphiql_check.js")
GRAPHQL_PATH = "/graphql"
STATIC_PREFIX = "/graphql/static"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Every asset the page must load, all from STATIC_PREFIX on our own server.
EXPECTED_ASSETS = (
    "graphiql.min.css",
    "graphiql-page.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphql-ws.min.js",
    "graphiql.min.js",
    "graphiql-init.js",
)
# Strict policy sent by the local server: scripts, styles sheets, fonts, XHR/WebSocket
# only from our origin (GraphiQL's fonts are inlined as data: URLs; its UI libraries
# inject <style> elements, hence 'unsafe-inline' for style-src only).
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DRIVER_TIMEOUT_S = 90


@dataclass(frozen=True)
class BrowserTooling:
    node: str
    chromium: Path
    playwright_dir: Path


def _browser_tooling() -> BrowserTooling | str:
    """The tools the check needs, or the reason why it cannot run here."""
    hint = "run scripts/install_browser_deps.sh"
    chromium = Path(os.environ.get("PRIVCHAT_CHROMIUM", "/usr/bin/chromium"))
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        return f"Chromium not found at {chromium} (set PRIVCHAT_CHROMIUM or {hint})"
    node = shutil.which("node")
    if node is None:
        return f"node is not on PATH ({hint})"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run {node} --version: {exc}"
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < 18:
        return f"playwright-core needs node >= 18, found {version!r}"
    # Relative paths are taken from the repository root, as scripts/install_browser_deps.sh does.
    playwright_dir = (REPO_ROOT / os.environ.get("PRIVCHAT_PLAYWRIGHT_DIR", ".cache/playwright")).resolve()
    if not (playwright_dir / "node_modules" / "playwright-core" / "package.json").is_file():
        return f"playwright-core is not installed under {playwright_dir}/node_modules ({hint})"
    return BrowserTooling(node=node, chromium=chromium, playwright_dir=playwright_dir)


@pytest.fixture(scope="module")
def browser_tooling() -> BrowserTooling:
    tooling = _browser_tooling()
    if isinstance(tooling, str):
        pytest.skip(f"GraphiQL browser check skipped: {tooling}")
    return tooling


# --- local fallback server --------------------------------------------------------------


@dataclass(frozen=True)
class LocalServer:
    ws_url_base: str  # "http://127.0.0.1:PORT", like the live_server fixture's attribute


def _build_local_app() -> Any:
    """A minimal Starlette app: GraphiQL page + static assets from app/graphiql.py, and a
    tiny GraphQL endpoint (graphql-core) so GraphiQL's schema introspection succeeds."""
    from graphql import build_schema, graphql
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route

    from app.graphiql import render_graphiql, static_app

    schema = build_schema("type Query { hello: String! }")
    page = render_graphiql(graphql_path=GRAPHQL_PATH, static_prefix=STATIC_PREFIX)

    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            if "text/html" in request.headers.get("accept", ""):
                return HTMLResponse(page, headers={"Content-Security-Policy": STRICT_CSP})
            return PlainTextResponse("POST a GraphQL request", status_code=400)
        body = await request.json()
        result = await graphql(
            schema,
            body.get("query", ""),
            root_value={"hello": "world"},
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        return JSONResponse(payload)

    return Starlette(
        routes=[
            Mount(STATIC_PREFIX, app=static_app(), name="graphiql-static"),
            Route(GRAPHQL_PATH, endpoint, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture(scope="module")
def graphiql_server() -> Iterator[LocalServer]:
    """Uvicorn in a background thread on 127.0.0.1, serving only app/graphiql.py's page.

    Local stand-in for the project's ``live_server`` fixture."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_build_local_app(), lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="graphiql-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            pytest.fail("local GraphiQL test server did not start")
        time.sleep(0.05)
    try:
        yield LocalServer(ws_url_base=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


# --- the check ----------------------------------------------------------------------------


def _http_base(url_base: str) -> str:
    parts = urlsplit(url_base)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def _run_driver(tooling: BrowserTooling, url: str, screenshot: Path | None) -> dict[str, Any]:
    cmd = [tooling.node, str(DRIVER), "--url", url, "--chromium", str(tooling.chromium)]
    cmd += ["--timeout-ms", str((DRIVER_TIMEOUT_S - 30) * 1000)]
    if screenshot is not None:
        cmd += ["--screenshot", str(screenshot)]
    env = {**os.environ, "PRIVCHAT_PLAYWRIGHT_DIR": str(tooling.playwright_dir)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"driver printed nothing (exit {proc.returncode}); stderr:\n{proc.stderr}"
    try:
        summary: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"driver output is not JSON: {lines[-1]!r}\nstderr:\n{proc.stderr}")
    assert proc.returncode == 0, f"driver failed (exit {proc.returncode}): {summary}\n{proc.stderr}"
    return summary


def _host_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return None  # never leaves the browser
    return parts.hostname or ""


def _check_graphiql_offline(tooling: BrowserTooling, url_base: str, screenshot: Path | None) -> dict[str, Any]:
    base = _http_base(url_base)
    summary = _run_driver(tooling, base + GRAPHQL_PATH, screenshot)
    details = json.dumps(summary, indent=2)

    assert summary.get("error") is None, f"browser check failed:\n{details}"
    assert summary["rendered"], f".graphiql-container never appeared:\n{details}"
    assert summary["editorRendered"], f"the query editor never appeared:\n{details}"

    urls = [req["url"] for req in summary["requests"]] + list(summary["webSockets"])
    hosts = {_host_of(url) for url in urls} - {None}
    foreign = sorted(url for url in urls if _host_of(url) not in LOCAL_HOSTS | {None})
    assert not foreign, f"GraphiQL requested other hosts: {foreign}\n{details}"
    assert not summary["blockedExternal"], f"external requests were attempted:\n{details}"
    assert hosts <= LOCAL_HOSTS, hosts

    loaded = {req["url"] for req in summary["requests"]}
    missing = [name for name in EXPECTED_ASSETS if f"{base}{STATIC_PREFIX}/{name}" not in loaded]
    assert not missing, f"assets not loaded from {STATIC_PREFIX}: {missing}\n{details}"
    broken_assets = [err for err in summary["httpErrors"] if STATIC_PREFIX in err["url"]]
    assert not broken_assets, f"static assets failed:\n{details}"
    assert not summary["pageErrors"], f"uncaught JavaScript errors:\n{details}"
    return summary


def test_graphiql_offline(browser_tooling: BrowserTooling, graphiql_server: LocalServer, tmp_path: Path) -> None:
    summary = _check_graphiql_offline(browser_tooling, graphiql_server.ws_url_base, tmp_path / "graphiql.png")
    details = json.dumps(summary, indent=2)
    # Under the strict CSP nothing may be refused, and the fetcher must reach our endpoint.
    assert not summary["cspViolations"], f"CSP violations:\n{details}"
    assert not summary["httpErrors"], f"HTTP errors:\n{details}"
    introspection = [
        req
        for req in summary["requests"]
        if req["method"] == "POST" and req["url"] == graphiql_server.ws_url_base + GRAPHQL_PATH
    ]
    assert introspection, f"GraphiQL never POSTed to {GRAPHQL_PATH}:\n{details}"
    assert (tmp_path / "graphiql.png").stat().st_size > 0


def test_graphiql_offline_live_server(browser_tooling: BrowserTooling, request: pytest.FixtureRequest) -> None:
    try:
        live_server = request.getfixturevalue("live_server")
    except pytest.FixtureLookupError:
        pytest.skip("no live_server fixture is defined yet; test_graphiql_offline covers app/graphiql.py")
    # The project's ServerProcess exposes `base_url`; `ws_url_base` was the planned name.
    url_base = getattr(live_server, "ws_url_base", None) or live_server.base_url
    _check_graphiql_offline(browser_tooling, url_base, None)
