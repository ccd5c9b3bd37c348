"""Examples in the docs are run, so they cannot drift from the server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.server import REPO, ServerProcess


def example_block(doc: Path, name: str) -> str:
    text = doc.read_text()
    match = re.search(rf"<!-- example: {name}\b.*?-->\s*```bash\n(.*?)```", text, re.S)
    assert match, f"no example '{name}' in {doc}"
    return match.group(1)


def test_readme_quickstart_runs_against_a_real_server(live_server: ServerProcess) -> None:
    script = example_block(REPO / "README.md", "quickstart").replace("localhost:9080", f"127.0.0.1:{live_server.ws_port}")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"username":"ann"' in result.stdout.replace(" ", "")
    assert '"accountProfileGet":{"profile":{"username":"ann","displayName":"Ann"}}' in result.stdout.replace(" ", "")
    assert '"current":true' in result.stdout.replace(" ", "")


def test_api_reference_is_generated_from_the_registry() -> None:
    result = subprocess.run([sys.executable, "scripts/gen_api_doc.py", "--check"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
