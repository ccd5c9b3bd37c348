"""Administration end to end: a real server, the REST door with httpx, GraphQL, native clients."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway_native.client import Client, Endpoint
from tests.support.server import REPO, ServerProcess

SERVICE_KEY = "e2e-service-key-" + "s" * 24
PASSWORD = "admin-e2e-pass-1"
KEY = {"x-service-key": SERVICE_KEY}


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(
        extra_env={
            "PRIVCHAT_SERVICE_KEY": SERVICE_KEY,
            "PRIVCHAT_SYSTEM_MESSAGE__WELCOME_ENABLED": "true",
            "PRIVCHAT_SYSTEM_MESSAGE__WELCOME_TEXT": "Hello {display_name}, welcome aboard",
        }
    )


def rest(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{server.service_url}/api/admin", headers=KEY, timeout=30)


async def graphql(server: ServerProcess, query: str, variables: dict[str, Any], **headers: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(server.graphql_url, json={"query": query, "variables": variables}, headers=headers)
    return dict(response.json())


async def device(server: ServerProcess, username: str, device_id: str = "phone") -> Client:
    client = Client(Endpoint("tcp", "127.0.0.1", server.tcp_port), device_id=device_id, backoff_initial=0.05)
    await client.login(username, PASSWORD)
    await client.start()
    return client


async def test_user_lifecycle_over_rest_with_live_connections(server: ServerProcess) -> None:
    tag = uuid.uuid4().hex[:6]
    async with rest(server) as admin:
        made = await admin.post("/users", json={"username": f"ann{tag}", "password": PASSWORD, "displayName": "Ann"})
        assert made.status_code == 201, made.text
        ann_id = made.json()["user"]["id"]
        bob_id = (
            await admin.post("/users", json={"username": f"bob{tag}", "password": PASSWORD, "displayName": "Bob"})
        ).json()["user"]["id"]
        looked_up = (await admin.get(f"/users/{ann_id}")).json()["user"]
        assert (looked_up["username"], looked_up["displayName"], looked_up["disabled"]) == (f"ann{tag}", "Ann", False)
        assert (await admin.post("/friendships", json={"userId": ann_id, "friendId": bob_id})).status_code == 201

        ann = await device(server, f"ann{tag}")
        bob = await device(server, f"bob{tag}")
        try:
            # The welcome message is there on the first sync, from the system account.
            assert any("Hello Ann, welcome aboard" in bob_texts for bob_texts in map(" ".join, _all_texts(ann)))
            channel = await ann.open_direct(bob_id)
            sent = await ann.send_text(channel, "before the ban")

            # Disable: ann's live connection ends at once, and logging in is refused.
            disabled = await admin.post(f"/users/{ann_id}/disable")
            assert disabled.status_code == 200 and disabled.json()["user"]["disabled"] is True
            async with asyncio.timeout(20):
                ended = await ann.wait_ended()
            assert ended.code == "SESSION_REVOKED"
            login = await graphql(
                server,
                "mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, "
                'deviceId: "web", deviceName: "web", platform: "web"}) { accessToken } }',
                {"u": f"ann{tag}", "p": PASSWORD},
            )
            assert login["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert (await admin.get(f"/users/{ann_id}/devices")).json()["devices"] == []
            logs = (await admin.get("/login-logs", params={"userId": ann_id, "success": "false"})).json()["entries"]
            assert [e["reason"] for e in logs] == ["disabled"]

            # Enable again: ann logs in.
            assert (await admin.post(f"/users/{ann_id}/enable")).json()["user"]["disabled"] is False
            await ann.close()
            ann = await device(server, f"ann{tag}", "tablet")

            # Delete: content erased (bob's device drops it), bob sees a deleted account.
            deleted = await admin.delete(f"/users/{ann_id}")
            assert deleted.status_code == 200, deleted.text
            gone = deleted.json()["user"]
            assert gone["username"] == f"deleted_{ann_id}" and gone["displayName"] == "Deleted account"
            assert gone["deletedAt"] is not None and gone["email"] is None
            async with asyncio.timeout(20):
                await ann.wait_ended()
            erased = (await admin.get("/messages", params={"messageId": sent["id"]})).json()["messages"][0]
            assert erased["content"] == {} and erased["revokedAt"] is not None
            await bob.sync()
            assert "before the ban" not in bob.texts(channel)
            friends = (await admin.get(f"/users/{bob_id}/friends")).json()["friends"]
            assert [f["user"]["displayName"] for f in friends] == ["Deleted account"]
            assert (await admin.get(f"/users/{ann_id}")).json()["user"]["disabled"] is True
        finally:
            await ann.close()
            await bob.close()

        entries = (await admin.get("/audit", params={"target": f"user:{ann_id}"})).json()["entries"]
        routes = [e["route"] for e in entries]
        for route in ("admin/user/delete", "admin/user/enable", "admin/user/disable", "admin/user/get"):
            assert route in routes


def _all_texts(client: Client) -> list[list[str]]:
    return [client.texts(channel) for channel in client.messages]


async def test_moderation_delete_leaves_a_system_line_and_an_audit_entry(server: ServerProcess) -> None:
    tag = uuid.uuid4().hex[:6]
    async with rest(server) as admin:
        ids = []
        for name in ("cat", "dan"):
            made = await admin.post("/users", json={"username": f"{name}{tag}", "password": PASSWORD})
            ids.append(made.json()["user"]["id"])
        await admin.post("/friendships", json={"userId": ids[0], "friendId": ids[1]})
        cat = await device(server, f"cat{tag}")
        dan = await device(server, f"dan{tag}")
        try:
            channel = await cat.open_direct(ids[1])
            bad = await cat.send_text(channel, "something illegal")
            async with asyncio.timeout(20):
                await dan.wait_for(channel, bad["pts"])
            assert "something illegal" in dan.texts(channel)

            removed = await admin.delete(f"/messages/{bad['id']}", params={"reason": "spam"})
            assert removed.status_code == 200, removed.text
            assert removed.json()["message"]["content"] == {}
            # Live: the revoke event and the system line reach dan's device through the channel log.
            async with asyncio.timeout(20):
                await dan.wait_for(channel, bad["pts"] + 2)
            assert "something illegal" not in dan.texts(channel)
            history = (await admin.get(f"/channels/{channel}/export")).json()["messages"]
            system = [m for m in history if m["type"] == "system"]
            assert system[-1]["content"]["text"] == "A message was removed by an administrator: spam"
            again = await admin.delete(f"/messages/{bad['id']}")
            assert again.status_code == 409
        finally:
            await cat.close()
            await dan.close()
        audit = (await admin.get("/audit", params={"route": "admin/message/delete"})).json()["entries"]
        assert [(e["target"], e["result"], e["actorKind"]) for e in audit[:2]] == [
            (f"message:{bad['id']}", "CONFLICT", "service_key"),
            (f"message:{bad['id']}", "OK", "service_key"),
        ]


async def test_stats_broadcast_and_a_normal_users_token(server: ServerProcess) -> None:
    tag = uuid.uuid4().hex[:6]
    async with rest(server) as admin:
        before = (await admin.get("/stats/overview", params={"days": 3})).json()
        made = [
            (await admin.post("/users", json={"username": f"s{i}{tag}", "password": PASSWORD})).json()["user"]["id"]
            for i in range(3)
        ]
        eve = await device(server, f"s0{tag}")
        try:
            await admin.post("/friendships", json={"userId": made[0], "friendId": made[1]})
            channel = await eve.open_direct(made[1])
            for i in range(4):
                await eve.send_text(channel, f"n{i}")
            after = (await admin.get("/stats/overview", params={"days": 3})).json()
            # 3 users, and the system account made on the first welcome of this server.
            assert after["users"] - before["users"] in (3, 4)
            assert len(after["messagesPerDay"]) == 3
            # 4 texts; the welcome messages of these three users are texts too.
            assert after["messagesPerDay"][-1]["messages"] - before["messagesPerDay"][-1]["messages"] == 4 + 3
            assert after["activeUsers1d"] - before["activeUsers1d"] == 1
            assert {"transport": "tcp", "connections": 1} in after["connections"]

            sent = await admin.post("/broadcast", json={"text": "maintenance at 22:00", "userIds": [made[0]]})
            assert sent.status_code == 202 and sent.json()["recipients"] == 1
            async with asyncio.timeout(20):
                while not any("maintenance at 22:00" in t for t in map(" ".join, _all_texts(eve))):
                    await eve.sync()
                    await asyncio.sleep(0.05)

            token = eve.access_token
            assert token is not None
            as_user = await admin.get("/users", headers={"x-service-key": "", "authorization": f"Bearer {token}"})
            assert as_user.status_code == 403
        finally:
            await eve.close()


def test_the_admin_rest_example_in_the_docs_runs(server: ServerProcess) -> None:
    from tests.e2e.test_docs_examples import example_block

    script = example_block(REPO / "docs" / "ADMIN.md", "admin-rest").replace(
        "localhost:9083", f"127.0.0.1:{server.http_port}"
    )
    script = script.replace('"carol"', '"carol' + uuid.uuid4().hex[:6] + '"')
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PRIVCHAT_SERVICE_KEY": SERVICE_KEY},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    created, found, stats, audit = lines
    assert created["user"]["displayName"] == "Carol"
    assert created["user"]["id"] in [u["id"] for u in found["users"]]
    assert stats["users"] >= 1 and len(stats["messagesPerDay"]) == 7
    assert audit["entries"][0]["route"] == "admin/stats/overview"
