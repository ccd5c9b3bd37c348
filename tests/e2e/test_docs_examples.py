"""Examples in the docs are run, so they cannot drift from the server."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from graphql import OperationDefinitionNode, build_schema, parse, print_ast, validate
from websockets.asyncio.client import connect

from tests.support.server import REPO, ServerProcess
from tests.support.sync_client import SyncClient


def example_block(doc: Path, name: str, language: str = "bash") -> str:
    text = doc.read_text()
    match = re.search(rf"<!-- example: {name}\b.*?-->\s*```{language}\n(.*?)```", text, re.S)
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


def test_files_example_uploads_and_reads_back_a_range(live_server: ServerProcess, tmp_path: Path) -> None:
    ports = {"localhost:9080": f"127.0.0.1:{live_server.ws_port}", "localhost:9083": f"127.0.0.1:{live_server.http_port}"}
    script = example_block(REPO / "README.md", "quickstart") + example_block(REPO / "docs" / "FILES.md", "files")
    script = script.replace('\\"ann\\"', '\\"fileann\\"')  # the quickstart's user exists already
    for old, new in ports.items():
        script = script.replace(old, new)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout.replace(" ", "")
    assert '"status":"READY"' in out and '"mimeType":"text/plain"' in out
    assert out.rstrip().endswith("hello")


async def test_sync_counter_examples_run_against_a_real_server(live_server: ServerProcess) -> None:
    """docs/SYNC.md: the interface selections are valid, and return the counters they promise."""
    document = parse(example_block(REPO / "docs" / "SYNC.md", "counters", "graphql"))
    async with httpx.AsyncClient() as http:
        schema = build_schema((await http.get(f"{live_server.base_url}/graphql/schema.graphql")).text)
    operations = [print_ast(d) for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:  # each is sent on its own
        assert validate(schema, parse(operation)) == [], operation
    subscription, difference, updates = operations
    suffix = uuid.uuid4().hex[:6]
    ann, bob = (SyncClient(live_server.base_url, f"{n}{suffix}", "docs-pass-1", "d") for n in ("dann", "dbob"))
    for client in (ann, bob):
        await client.register()
        await client.login()
    channel = await ann.open_direct(bob.user_id or "")
    await ann.send_text(channel, "before")
    async with connect(live_server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {bob.token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": subscription}}))
        diff = (await bob.gql(difference.replace('"7"', json.dumps(channel))))["syncGetDifference"]
        assert [(e["__typename"], e["pts"]) for e in diff["events"]] == [("MessageEvent", 1)]
        page = (await bob.gql(updates))["syncGetUpdates"]
        assert [u["seq"] for u in page["updates"]] == list(range(1, page["seq"] + 1))
        # The held stream flows once the device says it is ready (retried: the subscribe is not acknowledged).
        async with asyncio.timeout(20):
            while True:
                await bob.gql("mutation { syncSessionReady { ok } }")
                await ann.send_text(channel, "live")
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                except TimeoutError:
                    continue
                event = frame["payload"]["data"]["events"]
                assert event["__typename"] == "MessageEvent" and event["channelId"] == channel and event["pts"] >= 2
                break
    await ann.close()
    await bob.close()
