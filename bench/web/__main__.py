"""The web client in Chromium, timed (not a test; prints figures).

    .venv/bin/python -m bench.web                      # SQLite (default here)
    .venv/bin/python -m bench.web --backend postgres   # PostgreSQL + Redis

1. Send to render: context A clicks "Send", context B (another device of another user)
   shows the message; --messages times (default 200), one after another; p50/p99.
2. First render of a conversation list with --channels conversations (default 500), from
   page load (logged in) to the first rows on screen, and to all of them loaded.
3. A chat with --history messages (default 10,000): from the click to its rows on screen;
   then all of them loaded into the (virtualised) list, and the cost of one more message.

Needs what tests/e2e/test_web_client.py needs (Chromium, node, the node test packages).
Targets (issue 14): send-to-render p50 <= 50 ms, p99 <= 150 ms; first renders <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import uuid
from typing import Any

from bench.common import PASSWORD, Accounts, add_backend_argument, bounded, running_server
from tests.support.server import REPO
from tests.support.web_tools import find_tooling

DRIVER = REPO / "bench" / "web" / "web.mjs"
SUBMIT = (
    "mutation($items: [SyncSubmitItem!]!) { syncSubmit(input: {items: $items}) { results { ok errorMessage } } }"
)
FIND = "query($q: String!) { accountSearchQuery(input: {query: $q}) { results { user { id } searchProof } } }"
APPLY = (
    "mutation($u: ID!, $p: String) { contactFriendApply(input: {userId: $u, source: SEARCH, searchProof: $p}) "
    "{ outcome } }"
)
ACCEPT = "mutation($u: ID!) { contactFriendAccept(input: {userId: $u}) { channelId } }"
ADMIN_USER = "mutation($u: String!, $p: String!) { adminUserCreate(input: {username: $u, password: $p}) { user { id } } }"
ADMIN_FRIENDS = "mutation($a: ID!, $b: ID!) { adminFriendshipCreate(input: {userId: $a, friendId: $b}) { __typename } }"
SERVICE_KEY = "bench-service-key-" + uuid.uuid4().hex


async def befriend(accounts: Accounts, a: tuple[str, str, str], b: tuple[str, str, str]) -> str:
    found = await accounts.gql(FIND, {"q": b[0]}, a[2])
    proof = next(r["searchProof"] for r in found["accountSearchQuery"]["results"] if r["user"]["id"] == b[1])
    await accounts.gql(APPLY, {"u": b[1], "p": proof}, a[2])
    data = await accounts.gql(ACCEPT, {"u": a[1]}, b[2])
    return str(data["contactFriendAccept"]["channelId"])


async def fill_history(accounts: Accounts, token: str, channel_id: str, count: int) -> None:
    """`count` messages in one channel, 100 per syncSubmit call (setup, not measured)."""
    run = uuid.uuid4().hex[:6]
    batches = []
    for start in range(0, count, 100):
        items = [
            {"messageSend": {"channelId": channel_id, "clientMsgId": f"h-{run}-{i}", "content": {"text": {"text": f"history {i}"}}}}
            for i in range(start, min(count, start + 100))
        ]
        batches.append(accounts.gql(SUBMIT, {"items": items}, token))
    for batch in batches:  # in order: the history reads oldest to newest
        results = (await batch)["syncSubmit"]["results"]
        bad = [r for r in results if not r["ok"]]
        if bad:
            raise RuntimeError(bad[0])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backend_argument(parser)
    parser.set_defaults(backend="sqlite")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--history", type=int, default=10_000)
    args = parser.parse_args()
    tools = find_tooling(browser=True)
    if isinstance(tools, str):
        raise SystemExit(f"bench.web cannot run: {tools}")

    async with running_server(args.backend, {"PRIVCHAT_SERVICE_KEY": SERVICE_KEY}) as server:
        accounts = Accounts(server)
        started = time.perf_counter()
        sender = await accounts.user("snd")
        receiver = await accounts.user("rcv")
        lister = await accounts.user("lst")
        await befriend(accounts, sender, receiver)
        big = await befriend(accounts, sender, lister)
        # Direct chats with friends, made by the admin API (one request each, no logins).
        async def friend_of_lister(i: int) -> None:
            headers = {"x-service-key": SERVICE_KEY}
            body = {"query": ADMIN_USER, "variables": {"u": f"f{i}{uuid.uuid4().hex[:6]}", "p": PASSWORD}}
            created = (await accounts.http.post("/graphql", json=body, headers=headers)).json()
            friend = created["data"]["adminUserCreate"]["user"]["id"]
            body = {"query": ADMIN_FRIENDS, "variables": {"a": lister[1], "b": friend}}
            made = (await accounts.http.post("/graphql", json=body, headers=headers)).json()
            if made.get("errors"):
                raise RuntimeError(made["errors"])

        await bounded(8, [friend_of_lister(i) for i in range(args.channels - 1)])
        await fill_history(accounts, sender[2], big, args.history)
        await accounts.close()
        print(f"setup: {args.channels} conversations, {args.history} messages in {time.perf_counter() - started:.0f} s")

        config: dict[str, Any] = {
            "baseUrl": server.base_url,
            "password": PASSWORD,
            "sender": sender[0],
            "receiver": receiver[0],
            "lister": lister[0],
            "bigChannel": big,
            "messages": args.messages,
            "channels": args.channels,
            "history": args.history,
        }
        proc = await asyncio.to_thread(
            subprocess.run,
            [tools.node, str(DRIVER), json.dumps(config)],
            capture_output=True,
            text=True,
            timeout=1800,
            env=tools.env(),
        )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(lines[-1])
    if os.environ.get("BENCH_WEB_DEBUG"):  # the driver's per-message timings, as it logged them
        print(proc.stderr)
    if not r.get("ok"):
        raise SystemExit(json.dumps(r, indent=2))
    s = r["sendToRender"]
    print(f"\nweb client, {args.backend}, Chromium headless (2-core box shared with others: figures are noisy)\n")
    print("| measure | figure | target |")
    print("|---|---|---|")
    print(f"| send to render, p50 ({s['n']} messages) | {s['p50']:.1f} ms | <= 50 ms |")
    print(f"| send to render, p99 | {s['p99']:.1f} ms | <= 150 ms |")
    print(f"| send to render, max | {s['max']:.1f} ms | |")
    n, c = s["toSocket"], s["socketToRender"]
    print(f"| - of which click to the event on B's socket, p50 / p99 | {n['p50']:.1f} / {n['p99']:.1f} ms | |")
    for key, label in (
        ("toFetch", "click to the client's fetch() of the send (A's client)"),
        ("toWire", "fetch() to the request on the wire (A's Chromium network stack)"),
        ("wireToSocket", "request on the wire to the event on B's socket (server, B's Chromium)"),
        ("answer", "request on the wire to the first byte of A's answer (server)"),
    ):
        if s.get(key, {}).get("n"):
            print(f"|   - {label}, p50 / p99 | {s[key]['p50']:.1f} / {s[key]['p99']:.1f} ms | |")
    print(f"| - of which B's socket to the row on screen (the client), p50 / p99 | {c['p50']:.1f} / {c['p99']:.1f} ms | |")
    b = r["baseline"]
    print(f"| same trip without a browser (Node: HTTP send, graphql-ws receive), p50 / p99 | {b['p50']:.1f} / {b['p99']:.1f} ms | |")
    print(f"| browser / no-browser ratio, p50 / p99 | {s['p50'] / b['p50']:.2f} / {s['p99'] / b['p99']:.2f} | |")
    c = r["conversations"]
    print(f"| {args.channels} conversations: first rows on screen after page load | {c['firstRows']:.0f} ms | <= 1 s |")
    print(f"| {args.channels} conversations: all loaded | {c['allLoaded']:.0f} ms | |")
    h = r["history"]
    print(f"| chat with {args.history} messages: first rows on screen after the click | {h['firstRows']:.0f} ms | <= 1 s |")
    print(f"| same chat, all {h['loaded']} messages loaded: rows in the DOM | {h['domRows']} | |")
    print(f"| same chat, all loaded: one more message to its row on screen | {h['oneMore']:.1f} ms | |")


if __name__ == "__main__":
    asyncio.run(main())
