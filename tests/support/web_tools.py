"""Node, Chromium and the node test packages, for the tests that drive a browser or run
JavaScript clients (tests/e2e/test_web_client.py, test_js_clients.py, bench/web.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HINT = "run scripts/install_browser_deps.sh and scripts/install_node_test_deps.sh"


@dataclass(frozen=True)
class NodeTooling:
    node: str
    deps: Path
    chromium: Path | None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PRIVCHAT_NODE_DEPS_DIR": str(self.deps)}
        if self.chromium is not None:
            env["PRIVCHAT_CHROMIUM"] = str(self.chromium)
        return env


def find_tooling(*, browser: bool) -> NodeTooling | str:
    """What the JavaScript tests need, or the reason they cannot run here."""
    node = shutil.which("node")
    if node is None:
        return f"node is not on PATH ({HINT})"
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run node: {exc}"
    match = re.match(r"v(\d+)\.", version.strip())
    if match is None or int(match.group(1)) < 20:
        return f"node >= 20 is needed, found {version.strip()!r}"
    deps = (REPO / os.environ.get("PRIVCHAT_NODE_DEPS_DIR", ".cache/node")).resolve()
    wanted = ["playwright-core", "axe-core"] if browser else ["@apollo/client", "@urql/core", "graphql-ws", "ws"]
    missing = [name for name in wanted if not (deps / "node_modules" / name / "package.json").is_file()]
    if missing:
        return f"{', '.join(missing)} not installed under {deps}/node_modules ({HINT})"
    chromium = None
    if browser:
        chromium = Path(os.environ.get("PRIVCHAT_CHROMIUM", "/usr/bin/chromium"))
        if not (chromium.is_file() and os.access(chromium, os.X_OK)):
            return f"Chromium not found at {chromium} (set PRIVCHAT_CHROMIUM or {HINT})"
    return NodeTooling(node=node, deps=deps, chromium=chromium)


def node_tooling(*, browser: bool) -> NodeTooling:
    """The tooling, or skip the calling test (fail it in CI: PRIVCHAT_REQUIRE_SERVICES=1)."""
    tooling = find_tooling(browser=browser)
    if isinstance(tooling, str):
        what = "browser" if browser else "JavaScript client"
        if os.environ.get("PRIVCHAT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{what} tests are required in CI but cannot run: {tooling}")
        pytest.skip(f"{what} tests skipped: {tooling}")
    return tooling
