"""The graphql-http server audit suite (GraphQL-over-HTTP spec conformance) passes
completely against a real server: every MUST, SHOULD and MAY audit.

Runs tests/e2e/graphql_http_audit.mjs with node; graphql-http@1 is installed by
scripts/install_node_test_deps.sh into $PRIVCHAT_NODE_DEPS_DIR (default
<repo>/.cache/node). Without node or the package the test skips, saying why, unless
PRIVCHAT_REQUIRE_SERVICES=1 (CI), where missing tooling is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import REPO, ServerProcess

SCRIPT = Path(__file__).resolve().with_name("graphql_http_audit.mjs")
# graphql-http 1.x has 61 server audits; fewer means the suite did not really run.
MIN_AUDITS = 50
TIMEOUT_S = 120


def _unavailable(reason: str) -> None:
    if os.environ.get("PRIVCHAT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: PRIVCHAT_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def audit_tooling() -> tuple[str, Path]:
    """node and the directory graphql-http is installed in."""
    hint = "run scripts/install_node_test_deps.sh"
    node = shutil.which("node")
    if node is None:
        _unavailable(f"node is not on PATH ({hint} after installing Node.js >= 18)")
    assert node is not None
    deps = Path(os.environ.get("PRIVCHAT_NODE_DEPS_DIR", REPO / ".cache" / "node"))
    deps = (REPO / deps).resolve()
    if not (deps / "node_modules" / "graphql-http" / "package.json").is_file():
        _unavailable(f"graphql-http is not installed under {deps}/node_modules ({hint})")
    return node, deps


def run_audits(node: str, deps: Path, url: str) -> dict[str, Any]:
    proc = subprocess.run(
        [node, str(SCRIPT), url, "--deps-dir", str(deps)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=REPO,
    )
    if proc.returncode not in (0, 1):  # 2: the script could not run at all
        pytest.fail(f"audit script failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_every_graphql_over_http_audit_passes(audit_tooling: tuple[str, Path], live_server: ServerProcess) -> None:
    node, deps = audit_tooling
    report = run_audits(node, deps, live_server.graphql_url)
    results = report["results"]
    failures = [r for r in results if r["status"] != "ok"]
    print(f"graphql-http {report['graphqlHttpVersion']}: {report['ok']}/{report['total']} audits ok")
    for failure in failures:
        print(f"  {failure['status'].upper()} {failure['id']} {failure['name']}: {failure.get('reason')}")
        print(f"      response: {json.dumps(failure.get('response'))}")
    assert len(results) >= MIN_AUDITS, f"only {len(results)} audits ran"
    assert not failures, (
        "\n".join(f"{f['id']} {f['name']}: {f.get('reason')}" for f in failures) + "\n" + live_server.log()[-3000:]
    )
