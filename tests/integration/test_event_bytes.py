"""The bytes every subscriber receives for a live event, pinned by golden files.

tests/golden/event_bytes.json holds a corpus of real hub items (recorded from a scenario
of sends, replies, mentions, revokes, reactions, pins, group changes, friend requests,
read receipts, typing, plus kinds a client has no type for) and the exact frames the
server sent for them before events were serialised once per process: the `next` / `data`
texts of graphql-transport-ws and graphql-ws subscriptions with several documents, and
the PUSH frames of native connections. The test replays the corpus through a real
server (in this process, on real sockets) and compares byte for byte.

Regenerate (only when the output is meant to change):
`PRIVCHAT_WRITE_GOLDENS=1 .venv/bin/pytest tests/integration/test_event_bytes.py` (`=frames`
keeps the corpus and documents and rewrites only the expected frames).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLUnionType

from app import runtime
from app.config import Settings
from app.messaging.content import MessageType
from app.messaging.service import SendRequest
from app.presence.service import TypingAction
from gateway_native.codec import FrameType, encode
from tests.support import factories
from tests.support.inprocess import serving
from tests.support.social import searched

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "event_bytes.json"
WRITE = os.environ.get("PRIVCHAT_WRITE_GOLDENS", "")  # "1": everything; "frames": keep the corpus
HEADER = struct.Struct(">IB")

ALIASED = """subscription Feed($withPts: Boolean!, $input: EventsInput) {
  feed: events(input: $input) {
    kind: __typename
    ... on ChannelEvent { channel: channelId pts @include(if: $withPts) }
    ... on UserUpdateEvent { seq @skip(if: $withPts) }
    ... on MessageEvent { message { ...M } }
  }
}
fragment M on Message { id senderId text: content { ... on TextContent { text } } mentions createdAt }"""
PLAIN = "subscription { events { __typename ... on ChannelEvent { channelId pts } ... on UserUpdateEvent { seq } } }"


@dataclass
class Running:
    settings: Settings
    services: runtime.Services
    ws_url: str
    tcp_port: int
    app: Any


@pytest.fixture
async def running(settings_factory: Callable[..., Settings]) -> AsyncIterator[Running]:
    async with serving(settings_factory) as server:
        yield Running(server.settings, server.services, server.ws_url, server.tcp_port, server.app)


# --- the scenario that produced the corpus ------------------------------------------------


async def record_corpus(services: runtime.Services) -> list[dict[str, Any]]:
    """Hub items of a representative scenario, as they crossed the bus."""
    seen: list[dict[str, Any]] = []
    deliver = services.hub.deliver

    async def recording(user_ids: Any, message: dict[str, Any]) -> None:
        if message.get("type") != "session_ready":
            seen.append(json.loads(json.dumps(message)))
        await deliver(user_ids, message)

    deliver_each = services.hub.deliver_each

    async def recording_each(items: Any) -> None:
        seen.extend(json.loads(json.dumps(message)) for _, message in items)
        await deliver_each(items)

    services.hub.deliver = recording  # type: ignore[method-assign]
    services.hub.deliver_each = recording_each  # type: ignore[method-assign]
    try:
        owner, ann, bob, cid = [await factories.account(services) for _ in range(4)]
        created = await services.groups.create(owner.principal, name="golden", member_ids=[ann.user_id, bob.user_id])
        group = created.group.channel.id
        assert group is not None

        async def send(sender: factories.Account, kind: MessageType, content: dict[str, Any], **extra: Any) -> Any:
            return await services.messaging.send(
                sender.principal,
                SendRequest(channel_id=group, client_msg_id=f"g-{len(seen)}", type=kind, content=content, **extra),
            )

        first = await send(ann, MessageType.TEXT, {"text": "héllo \"world\" \U0001f600 <b>&"})
        await send(bob, MessageType.TEXT, {"text": "reply"}, reply_to_id=first.id, mentions=(ann.user_id,))
        await send(owner, MessageType.TEXT, {"text": "all"}, mention_all=True, meta={"k": [1, 2.5, None, "x"]})
        await send(ann, MessageType.LOCATION, {"latitude": 48.85, "longitude": 2.35, "title": "Paris"})
        await send(ann, MessageType.CARD, {"userId": bob.user_id})
        await services.reactions.add(bob.principal, first.id, "\U0001f44d")
        await services.pins.set_pinned(owner.principal, first.id, pinned=True)
        await services.messaging.revoke(ann.principal, first.id)
        await services.groups.members.add(owner.principal, group, [cid.user_id])
        await services.groups.members.mute(owner.principal, group, cid.user_id, seconds=60)
        await services.presence.typing(bob.principal, group, TypingAction.TYPING)
        await services.receipts.read(ann.principal, group, 3)
        proof = await searched(services, ann, bob)
        await services.contacts.apply(
            ann.principal, user_id=bob.user_id, message="hi", source="search", search_proof=proof
        )
        direct = await factories.direct_channel(services, ann, cid)
        await factories.send_text(services, cid, direct, "direct")
        await services.receipts.read(ann.principal, direct, 1)
    finally:
        services.hub.deliver = deliver  # type: ignore[method-assign]
        services.hub.deliver_each = deliver_each  # type: ignore[method-assign]
    # What a newer server or a damaged item may carry: clients must still see pts/seq.
    seen.append({"type": "channel_event", "kind": "future_kind", "channelId": group, "pts": 99,
                 "actorId": ann.user_id, "payload": {"x": 1}})
    seen.append({"type": "user_update", "kind": "future_update", "seq": 42, "payload": {"y": [True]}})
    seen.append({"type": "resync_required", "reason": "overflow"})
    return seen


# --- raw clients -------------------------------------------------------------------------


@dataclass
class Subscriber:
    name: str
    frames: list[bytes | str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def transport_ws(url: str, token: str, subs: dict[str, tuple[str, dict[str, Any] | None]],
                       out: Subscriber, expected: int, ready: asyncio.Event) -> None:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for sub_id, (query, variables) in subs.items():
            await ws.send(json.dumps({"id": sub_id, "type": "subscribe",
                                      "payload": {"query": query, "variables": variables}}))
        ready.set()
        while len(out.frames) < expected:
            text = await ws.recv()
            if json.loads(text)["type"] == "next":
                out.frames.append(text)
    out.done.set()


async def legacy_ws(url: str, token: str, subs: dict[str, tuple[str, dict[str, Any] | None]],
                    out: Subscriber, expected: int, ready: asyncio.Event) -> None:
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        while json.loads(await ws.recv())["type"] != "connection_ack":
            pass
        for sub_id, (query, variables) in subs.items():
            await ws.send(json.dumps({"id": sub_id, "type": "start",
                                      "payload": {"query": query, "variables": variables}}))
        ready.set()
        while len(out.frames) < expected:
            text = await ws.recv()
            if json.loads(text)["type"] == "data":
                out.frames.append(text)
    out.done.set()


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    (length,) = struct.unpack(">I", head)
    return head + await reader.readexactly(length)


async def native(port: int, account: factories.Account, out: Subscriber, expected: int, ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.write(encode(FrameType.CONNECT, {"token": account.access_token, "deviceId": account.device_id,
                                            "platform": "android", "protocolVersion": 1}))
    assert (await read_frame(reader))[4] == FrameType.CONNECT_ACK
    writer.write(encode(FrameType.RPC, {"id": 1, "route": "sync/session_ready", "args": {}}))
    while (await read_frame(reader))[4] != FrameType.RPC_RESULT:
        pass
    ready.set()
    while len(out.frames) < expected:
        frame = await read_frame(reader)
        if frame[4] == FrameType.PUSH:
            out.frames.append(frame)
    writer.close()
    out.done.set()


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def aliased_selection(type_: Any, conflicts: frozenset[str] = frozenset()) -> str:
    """Every field of every type; fields that members of a union share under one name with
    different types are aliased by their type (one selection set may not ask for both)."""
    named = _unwrap(type_)
    if isinstance(named, GraphQLUnionType):
        seen: dict[str, set[str]] = {}
        for member in named.types:
            for name, f in member.fields.items():
                seen.setdefault(name, set()).add(str(f.type))
        clash = frozenset(name for name, types in seen.items() if len(types) > 1)
        members = " ".join(f"... on {m.name} {aliased_selection(m, clash)}" for m in named.types)
        return "{ __typename " + members + " }"
    if isinstance(named, GraphQLObjectType):
        parts = []
        for name, f in named.fields.items():
            alias = f"{named.name[:1].lower()}{named.name[1:]}{name[:1].upper()}{name[1:]}: " if name in conflicts else ""
            inner = _unwrap(f.type)
            sub = " " + aliased_selection(f.type) if isinstance(inner, GraphQLObjectType | GraphQLUnionType) else ""
            parts.append(alias + name + sub)
        return "{ " + " ".join(parts) + " }"
    return ""


def full_document(running: Running) -> str:
    from app.main import build_api

    schema = build_api(running.settings).schema._schema
    assert schema.subscription_type is not None
    return "subscription Full { events " + aliased_selection(schema.subscription_type.fields["events"].type) + " }"


async def replay(running: Running, corpus: list[dict[str, Any]], documents: dict[str, Any]) -> dict[str, list[Any]]:
    """Every corpus item delivered to two users, received by every kind of subscriber."""
    services = running.services
    ann, bob = await factories.account(services), await factories.account(services)
    full, aliased, plain = documents["full"], documents["aliased"], documents["plain"]
    n = len(corpus)
    subscribers: dict[str, Subscriber] = {}
    tasks: list[asyncio.Task[None]] = []
    waits: list[asyncio.Event] = []

    def start(name: str, count: int, make: Callable[[Subscriber, asyncio.Event], Any]) -> None:
        sub = subscribers[name] = Subscriber(name)
        ready = asyncio.Event()
        waits.append(ready)
        tasks.append(asyncio.create_task(make(sub, ready)))
        sub.expected = count  # type: ignore[attr-defined]

    url = running.ws_url
    # Two identical subscribers and one with two documents on one socket.
    start("tws-ann-1", n, lambda s, r: transport_ws(url, ann.access_token, {"s1": (full, None)}, s, n, r))
    start("tws-ann-2", n, lambda s, r: transport_ws(url, ann.access_token, {"other-id": (full, None)}, s, n, r))
    start("tws-bob", 2 * n, lambda s, r: transport_ws(
        url, bob.access_token, {"a": (aliased, {"withPts": True}), "b": (aliased, {"withPts": False})}, s, 2 * n, r))
    start("legacy-ann", n, lambda s, r: legacy_ws(url, ann.access_token, {"L1": (full, None)}, s, n, r))
    start("legacy-bob", n, lambda s, r: legacy_ws(url, bob.access_token, {"L2": (plain, None)}, s, n, r))
    start("native-ann", n, lambda s, r: native(running.tcp_port, ann, s, n, r))
    start("native-bob", n, lambda s, r: native(running.tcp_port, bob, s, n, r))
    async with asyncio.timeout(30):
        for ready in waits:
            await ready.wait()
    # Subscriptions register with the hub in their own tasks: wait for all of them.
    listeners = services.hub._listeners
    for _ in range(1000):
        if len(listeners.get(ann.user_id, ())) >= 4 and len(listeners.get(bob.user_id, ())) >= 4:
            break
        await asyncio.sleep(0.01)
    else:
        failed = [t.exception() for t in tasks if t.done()]
        raise AssertionError(f"listeners: {len(listeners.get(ann.user_id, ()))}, "
                             f"{len(listeners.get(bob.user_id, ()))}; {subscribers}; {failed}")
    for message in corpus:
        await services.hub.deliver([ann.user_id, bob.user_id], message)
    done, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    assert not pending, str({name: (len(sub.frames), sub.expected) for name, sub in subscribers.items()})  # type: ignore[attr-defined]
    for task in done:
        task.result()
    result: dict[str, list[Any]] = {}
    for name, sub in subscribers.items():
        if name.startswith("tws-bob"):
            # Two subscriptions on one socket interleave: compare each one in order.
            frames = sorted(sub.frames, key=lambda t: json.loads(t)["id"])  # stable: keeps each one's order
        else:
            frames = sub.frames
        result[name] = [f.hex() if isinstance(f, bytes) else f for f in frames]
    return result


async def test_every_subscriber_receives_the_golden_bytes(running: Running) -> None:
    if WRITE:
        if WRITE == "frames":
            kept = json.loads(GOLDEN.read_text())
            corpus, documents = kept["corpus"], kept["documents"]
        else:
            corpus = await record_corpus(running.services)
            documents = {"full": full_document(running), "aliased": ALIASED, "plain": PLAIN}
        frames = await replay(running, corpus, documents)
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps({"corpus": corpus, "documents": documents, "frames": frames},
                                     indent=1, ensure_ascii=False) + "\n")
        pytest.skip("golden bytes written")
    golden = json.loads(GOLDEN.read_text())
    fanout, push_frames = running.app.api.fanout, running.app.gateway.push_frames
    executions, encodings = fanout.executions, push_frames.encodings
    frames = await replay(running, golden["corpus"], golden["documents"])
    # Once per process: each item executed once per distinct document (+ variables), not
    # once per subscriber (7 subscriptions share 4 documents), and PUSH-encoded once.
    n = len(golden["corpus"])
    assert fanout.executions - executions == 4 * n
    assert push_frames.encodings - encodings == n
    assert frames.keys() == golden["frames"].keys()
    for name, expected in golden["frames"].items():
        assert len(frames[name]) == len(expected), name
        for i, (got, want) in enumerate(zip(frames[name], expected, strict=True)):
            assert got == want, f"{name} frame {i} ({golden['corpus'][i % len(golden['corpus'])].get('kind')})"


async def test_identical_subscribers_get_identical_payloads(running: Running) -> None:
    golden = json.loads(GOLDEN.read_text())
    frames = await replay(running, golden["corpus"][:5], golden["documents"])
    first = [t.replace('"id":"s1"', '"id":"X"') for t in frames["tws-ann-1"]]
    second = [t.replace('"id":"other-id"', '"id":"X"') for t in frames["tws-ann-2"]]
    assert first == second


async def test_subscribers_share_payloads_across_formatting_and_viewers_and_get_only_their_own_items(
    running: Running,
) -> None:
    """Two users subscribe with the same document written three ways (and over both
    WebSocket protocols): a channel item both get is executed once and both get the same
    bytes; an item for one user (a user update with that user's seq) reaches that user
    only, with its own seq, although the payloads are shared."""
    services, url = running.services, running.ws_url
    ann, bob = await factories.account(services), await factories.account(services)
    compact = "subscription{events{__typename ...on ChannelEvent{channelId pts}...on UserUpdateEvent{seq}...on OtherUserUpdate{kind}}}"
    spread = """subscription {
      events {  # the feed
        __typename,
        ... on ChannelEvent { channelId, pts }
        ... on UserUpdateEvent { seq }, ... on OtherUserUpdate { kind }
      }
    }"""
    spaced = " ".join(spread.replace("# the feed", "").split())
    shared = [{"type": "channel_event", "kind": "future_kind", "channelId": 7, "pts": p, "actorId": 1, "payload": {}}
              for p in (1, 2)]
    own = {ann.user_id: {"type": "user_update", "kind": "future_update", "seq": 11, "payload": {}},
           bob.user_id: {"type": "user_update", "kind": "future_update", "seq": 22, "payload": {}}}
    subs = {"ann-tws": Subscriber("ann-tws"), "bob-tws": Subscriber("bob-tws"), "bob-legacy": Subscriber("bob-legacy")}
    readies = [asyncio.Event() for _ in subs]
    tasks = [
        asyncio.create_task(transport_ws(url, ann.access_token, {"a": (compact, None)}, subs["ann-tws"], 3, readies[0])),
        asyncio.create_task(transport_ws(url, bob.access_token, {"a": (spread, None)}, subs["bob-tws"], 3, readies[1])),
        asyncio.create_task(legacy_ws(url, bob.access_token, {"a": (spaced, None)}, subs["bob-legacy"], 3, readies[2])),
    ]
    async with asyncio.timeout(30):
        for ready in readies:
            await ready.wait()
    listeners = services.hub._listeners
    for _ in range(1000):  # subscriptions register with the hub in their own tasks
        if len(listeners.get(ann.user_id, ())) >= 1 and len(listeners.get(bob.user_id, ())) >= 2:
            break
        await asyncio.sleep(0.01)
    fanout = running.app.api.fanout
    executions = fanout.executions
    for message in shared:
        await services.hub.deliver([ann.user_id, bob.user_id], message)
    for user_id, message in own.items():
        await services.hub.deliver([user_id], message)
    done, pending = await asyncio.wait(tasks, timeout=20)
    assert not pending, {name: sub.frames for name, sub in subs.items()}
    for task in done:
        task.result()
    # One execution per item, whatever the number of subscribers and their formatting.
    assert fanout.executions - executions == len(shared) + len(own)
    ann_frames = subs["ann-tws"].frames
    assert subs["bob-tws"].frames[:2] == ann_frames[:2]  # the same bytes (same subscription id)
    legacy = [json.loads(f) for f in subs["bob-legacy"].frames]
    assert [f["payload"] for f in legacy[:2]] == [json.loads(f)["payload"] for f in ann_frames[:2]]
    assert [json.loads(f)["payload"]["data"]["events"]["pts"] for f in ann_frames[:2]] == [1, 2]
    # Each viewer got its own update, and only its own.
    assert json.loads(ann_frames[2])["payload"]["data"]["events"] == {
        "__typename": "OtherUserUpdate", "seq": 11, "kind": "future_update"}
    for frame in (json.loads(subs["bob-tws"].frames[2]), legacy[2]):
        assert frame["payload"]["data"]["events"] == {"__typename": "OtherUserUpdate", "seq": 22, "kind": "future_update"}
