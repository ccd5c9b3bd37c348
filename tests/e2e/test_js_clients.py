"""Apollo Client and urql, unmodified, in Node, against a real server: a query, a mutation
and the `events` subscription each (tests/e2e/web/js_clients.mjs). These are the clients
web developers use; the GraphQL door must work with them as they come."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.support.server import REPO, ServerProcess
from tests.support.web_tools import node_tooling

DRIVER = REPO / "tests" / "e2e" / "web" / "js_clients.mjs"


def test_apollo_client_and_urql_query_mutate_and_subscribe(live_server: ServerProcess) -> None:
    tools = node_tooling(browser=False)
    proc = subprocess.run(
        [tools.node, str(DRIVER), json.dumps({"baseUrl": live_server.base_url})],
        capture_output=True,
        text=True,
        timeout=120,
        env=tools.env(),
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no report (exit {proc.returncode}):\n{proc.stderr}"
    report: dict[str, Any] = json.loads(lines[-1])
    assert report["ok"], json.dumps(report, indent=2) + "\n" + proc.stderr
    for name, text in (("apollo", "hello from Apollo"), ("urql", "hello from urql")):
        result = report[name]
        assert result["query"] == "jsbob"
        sent = result["mutation"]
        # The subscriber saw exactly the message the other client sent, with its pts,
        # read through the ChannelEvent interface.
        assert result["event"] == {
            "typename": "MessageEvent",
            "pts": sent["pts"],
            "channelId": report["channelId"],
            "text": text,
        }
