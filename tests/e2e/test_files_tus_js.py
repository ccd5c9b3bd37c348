"""The stock tus-js-client (Node) uploads through the upload URL of file/request_upload_token,
is stopped at ~60% and resumed by a new Upload from the server's offset.

tus-js-client@4 is installed by scripts/install_node_test_deps.sh into
$PRIVCHAT_NODE_DEPS_DIR (default <repo>/.cache/node). Without node or the package the test
skips, saying why, unless PRIVCHAT_REQUIRE_SERVICES=1 (CI), where that is a failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.graphql import GraphQLClient
from tests.support.server import REPO, ServerProcess

SCRIPT = Path(__file__).resolve().with_name("tus_js_upload.mjs")
PASSWORD = "e2e-password-42"


def _unavailable(reason: str) -> None:
    if os.environ.get("PRIVCHAT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: PRIVCHAT_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def tooling() -> tuple[str, Path]:
    hint = "run scripts/install_node_test_deps.sh"
    node = shutil.which("node")
    if node is None:
        _unavailable(f"node is not on PATH ({hint} after installing Node.js >= 18)")
    assert node is not None
    deps = (REPO / Path(os.environ.get("PRIVCHAT_NODE_DEPS_DIR", REPO / ".cache" / "node"))).resolve()
    if not (deps / "node_modules" / "tus-js-client" / "package.json").is_file():
        _unavailable(f"tus-js-client is not installed under {deps}/node_modules ({hint})")
    return node, deps


async def test_tus_js_client_uploads_and_resumes_unmodified(
    live_server: ServerProcess, tooling: tuple[str, Path], tmp_path: Path
) -> None:
    node, deps = tooling
    data = os.urandom(1 << 20) * 12  # 12 MiB
    source = tmp_path / "movie.bin"
    source.write_bytes(data)
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=60) as http:
        gql = GraphQLClient(http)
        name = "tus" + uuid.uuid4().hex[:6]
        await gql.data(
            "mutation($u: String!, $p: String!) { accountUserRegister(input: {username: $u, password: $p}) { user { id } } }",
            {"u": name, "p": PASSWORD},
        )
        login = await gql.data(
            'mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: "node", platform: "web"}) { accessToken } }',
            {"u": name, "p": PASSWORD},
        )
        token = login["accountAuthLogin"]["accessToken"]
        request = {"name": "movie.bin", "size": len(data), "mime": "application/octet-stream", "purpose": "MESSAGE"}
        granted = (
            await gql.data(
                "mutation($i: FileRequestUploadTokenInput!) { fileRequestUploadToken(input: $i) { fileId uploadUrl } }",
                {"i": request},
                token=token,
            )
        )["fileRequestUploadToken"]
        proc = await asyncio.to_thread(
            subprocess.run,
            [node, str(SCRIPT), granted["uploadUrl"], str(source), "--deps-dir", str(deps)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        assert report["total"] == len(data)
        assert 0.6 * len(data) <= report["abortedAt"] < len(data)
        assert report["resumedFrom"] >= report["abortedAt"]  # nothing sent twice from the start
        done = await gql.data(
            "mutation($f: ID!) { fileUploadCallback(input: {fileId: $f}) { file { status sha256 size } } }",
            {"f": granted["fileId"]},
            token=token,
        )
        assert done["fileUploadCallback"]["file"] == {
            "status": "READY",
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
