"""The web client's files: its GraphQL documents are valid against the schema, the
vendored libraries are exactly the pinned ones, and the page is safe to serve."""

from __future__ import annotations

import functools
import hashlib
import json
import re

import pytest
from graphql import GraphQLSchema, parse, validate

from app.config import HttpSettings, Settings
from app.webclient import CSP, STATIC_DIR, PageConfig, render_page
from resolvers import ALL_OPERATIONS
from schema.build import Api

QUERIES = STATIC_DIR / "queries.js"
VENDOR = STATIC_DIR / "vendor"
_EXPORT = re.compile(r"export const (\w+) = `(.*?)`;", re.S)
_INTERPOLATION = re.compile(r"\$\{(\w+)\}")


def _documents() -> dict[str, str]:
    """queries.js's exported template strings, with their ${FRAGMENT} parts filled in."""
    raw = dict(_EXPORT.findall(QUERIES.read_text(encoding="utf-8")))
    return {name: _INTERPOLATION.sub(lambda m: raw[m.group(1)], text) for name, text in raw.items()}


@functools.cache
def _schema() -> GraphQLSchema:
    return Api(ALL_OPERATIONS, HttpSettings()).schema._schema


def _operations() -> dict[str, str]:
    return {name: doc for name, doc in _documents().items() if re.match(r"\s*(query|mutation|subscription)\b", doc)}


def test_queries_js_has_the_documents_the_client_needs() -> None:
    ops = _operations()
    for name in ("EVENTS", "SYNC_DIFFERENCE", "SYNC_UPDATES", "SYNC_CHANNEL_PTS", "SESSION_READY", "SEND", "HISTORY"):
        assert name in ops


@pytest.mark.parametrize("name", sorted(_operations()))
def test_every_document_of_the_client_is_valid_against_the_schema(name: str) -> None:
    errors = validate(_schema(), parse(_operations()[name]))
    assert not errors, [e.message for e in errors]


def test_the_sync_reads_counters_through_the_interfaces() -> None:
    # The reference client must not need one fragment per event type to read pts/seq.
    doc = _documents()["CHANNEL_EVENT"] + _documents()["USER_UPDATE"]
    assert "... on ChannelEvent { channelId pts }" in doc
    assert "... on UserUpdateEvent { seq }" in doc


def test_vendored_files_match_their_recorded_sha256() -> None:
    text = (VENDOR / "VERSIONS.txt").read_text(encoding="utf-8")
    sums = dict((name, digest) for digest, name in re.findall(r"^\s+([0-9a-f]{64})\s+(\S+)$", text, re.M))
    files = {p.name for p in VENDOR.glob("*.js")}
    assert files == set(sums), "every vendored module is listed in VERSIONS.txt, and nothing else"
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_the_client_imports_only_relative_modules() -> None:
    # No bare specifiers: they would need an import map, i.e. an inline script. (That no
    # request leaves the server is checked in a real browser: tests/e2e/test_web_client.py.)
    for path in STATIC_DIR.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        for spec in re.findall(r"""^\s*(?:import|export)\b[^;'"]*?from\s*["']([^"']+)["']""", text, re.M):
            assert spec.startswith("./") or spec.startswith("../"), f"{path.name} imports {spec}"


def test_the_page_embeds_its_settings_as_inert_json() -> None:
    settings = Settings()
    page = render_page(PageConfig.of(settings, graphql_path="/graphql</script><script>alert(1)", files_enabled=False))
    block = re.search(r'<script id="privchat-config" type="application/json">(.*?)</script>', page, re.S)
    assert block is not None
    assert "<" not in block.group(1)
    config = json.loads(block.group(1))
    assert config["graphqlPath"] == "/graphql</script><script>alert(1)"
    assert config["filesEnabled"] is False
    assert config["reactionEmoji"] == list(settings.messaging.reaction_emoji)
    # No inline script may run: every other <script> loads a file from our origin.
    scripts = re.findall(r"<script([^>]*)>", page)
    assert all('type="application/json"' in s or 'src="/app/static/' in s for s in scripts), scripts


def test_the_csp_allows_nothing_inline_and_no_other_host() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in CSP


def test_the_stylesheet_loads_nothing_from_elsewhere() -> None:
    css = (STATIC_DIR / "app.css").read_text(encoding="utf-8")
    assert "@import" not in css
    assert not re.search(r"url\((?!\s*['\"]?data:)", css)


def test_the_subscription_in_the_web_client_guide_is_valid() -> None:
    doc = (STATIC_DIR.parents[2] / "docs" / "WEB_CLIENT.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- example: web-client-events -->\s*```graphql\n(.*?)```", doc, re.S)
    assert match is not None
    assert not validate(_schema(), parse(match.group(1)))


def test_the_page_preloads_every_module() -> None:
    # Without it the browser discovers the modules import by import: one round trip each.
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    modules = {str(p.relative_to(STATIC_DIR)) for p in STATIC_DIR.rglob("*.js")} - {"main.js"}
    preloaded = set(re.findall(r'<link rel="modulepreload" href="\{\{STATIC\}\}/([^"]+)"', page))
    assert preloaded == modules


def test_with_files_the_page_may_upload_to_and_show_images_from_the_files_door_only() -> None:
    config = PageConfig.of(
        Settings(), graphql_path="/graphql", files_enabled=True, files_base=lambda host: f"http://{host}:9083"
    )
    directives = dict(d.strip().split(" ", 1) for d in config.csp_for("chat.test").split(";"))
    files = "http://chat.test:9083/api/app/files/"
    assert directives["connect-src"] == f"'self' {files}"
    assert directives["img-src"] == f"'self' data: blob: {files}"
    assert directives["media-src"] == f"'self' blob: {files}"  # <audio>, <video>
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    without = PageConfig.of(Settings(), graphql_path="/graphql", files_enabled=False, files_base=lambda h: "x")
    assert without.csp_for("chat.test") == CSP
    page = json.loads(re.search(r'type="application/json">(.*?)</script>', render_page(config), re.S).group(1))
    assert page["fileLimits"]["avatar"] == Settings().file.max_avatar_bytes
