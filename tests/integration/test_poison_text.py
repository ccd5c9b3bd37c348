"""Poison strings: text that cannot be stored or served is refused at the boundary of
both doors, naming the field, and text that slipped in before (or from another writer)
never takes a page or a stream down."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from app.config import HttpSettings
from app.context import RequestContext
from app.errors import AppError
from app.runtime import Services
from gateway_native.codec import FrameType, decode_body
from gateway_native.push import PushFrames
from gateway_native.session import Limits, Send, Session
from resolvers import ALL_OPERATIONS
from schema.build import Api
from tests.support import backends, factories
from tests.support.graphql import GraphQLClient, GraphQLResult

SEND = """mutation($i: MessageSendInput!) { messageSend(input: $i) { message { id } } }"""
HISTORY = """query($i: MessageHistoryGetInput!) {
  messageHistoryGet(input: $i) { messages { id content { ... on TextContent { text } } } } }"""
PROFILE = """mutation($i: AccountProfileUpdateInput!) { accountProfileUpdate(input: $i) { profile { id } } }"""

POISON = ["hi \ud800 there", "\udfff", "pair \ude00\ud83d reversed", "nul \x00 inside"]


async def execute_ascii(gql: GraphQLClient, document: str, variables: dict[str, Any], token: str) -> GraphQLResult:
    """As a client sends it: JSON escapes (`"\\ud800"`), which any JSON parser accepts."""
    body = json.dumps({"query": document, "variables": variables}, ensure_ascii=True).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    response = await gql.http.post(gql.path, content=body, headers=headers)
    return GraphQLResult(response.status_code, response.json())


async def native(api: Api, services: Services, token: str, route: str, args: dict[str, Any]) -> AppError:
    ctx = RequestContext(services=services, transport="test", token=token, ip="127.0.0.1")
    with pytest.raises(AppError) as caught:
        await api.call(route, ctx, args)
    return caught.value


@pytest.mark.parametrize("poison", POISON)
async def test_poison_text_is_refused_naming_the_field(
    api: Api, services: Services, gql: GraphQLClient, poison: str
) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    message = {"channelId": str(channel), "clientMsgId": "p-1", "content": {"text": {"text": poison}}}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        (SEND, "message/send", message, "input.content.text.text"),
        (SEND, "message/send", {**message, "meta": {"note": poison}}, "input.meta.note"),
        (PROFILE, "account/profile/update", {"displayName": poison}, "input.displayName"),
    ]
    if "\x00" in poison:
        cases = cases[:1]  # NUL in a text message; the rest is covered by the surrogate cases
    for document, route, args, field in cases:
        if field == "input.meta.note":
            args = {**args, "content": {"text": {"text": "fine"}}}
        result = await execute_ascii(gql, document, {"i": args}, ann.access_token)
        assert result.status == 200 and result.error_code == "BAD_USER_INPUT", result.body
        assert result.errors[0]["extensions"]["field"] == field
        assert field in result.errors[0]["message"]
        error = await native(api, services, ann.access_token, route, args)
        assert (error.code.value, error.details["field"]) == ("BAD_USER_INPUT", field)
    # Nothing was stored, and the channel still reads.
    history = await gql.data(HISTORY, {"i": {"channelId": str(channel)}}, token=ann.access_token)
    assert history["messageHistoryGet"]["messages"] == []


async def test_valid_unicode_is_stored_and_served_intact(services: Services, gql: GraphQLClient) -> None:
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    text = "emoji 😀, RTL \u202e mark, zero\u200bwidth, 中文, \U0010fffd"
    args = {"channelId": str(channel), "clientMsgId": "ok-1", "content": {"text": {"text": text}}}
    await gql.data(SEND, {"i": args}, token=ann.access_token)
    history = await gql.data(HISTORY, {"i": {"channelId": str(channel)}}, token=bob.access_token)
    assert [m["content"]["text"] for m in history["messageHistoryGet"]["messages"]] == [text]


@pytest.mark.skipif(backends.IS_POSTGRES, reason="PostgreSQL's jsonb refuses lone surrogates: none can be stored")
async def test_stored_poison_never_fails_a_page(services: Services, gql: GraphQLClient) -> None:
    """A lone surrogate already in the database (written before the boundary check, or by
    another writer): the page is served, the bad text repaired and named by a typed error."""
    ann = await factories.account(services, "ann")
    bob = await factories.account(services, "bob")
    channel = await factories.direct_channel(services, ann, bob)
    await factories.send_text(services, ann, channel, "good one")
    # The service takes trusted input (the check is at the door): this is the old data.
    await factories.send_text(services, ann, channel, "bad \ud800 one")
    await factories.send_text(services, ann, channel, "good two")
    before = services.metrics.output_repaired.labels("graphql")._value.get()
    result = await gql.execute(HISTORY, {"i": {"channelId": str(channel)}}, token=bob.access_token)
    assert result.status == 200
    texts = [m["content"]["text"] for m in result.body["data"]["messageHistoryGet"]["messages"]]
    assert sorted(texts) == ["bad \ufffd one", "good one", "good two"]
    bad_index = texts.index("bad \ufffd one")
    assert result.errors == [
        {
            "message": "this text could not be encoded; unencodable characters were replaced by U+FFFD",
            "path": ["messageHistoryGet", "messages", bad_index, "content", "text"],
            "extensions": {"code": "INTERNAL"},
        }
    ]
    assert services.metrics.output_repaired.labels("graphql")._value.get() == before + 1
    # And the next page of anything else is unaffected.
    assert (await gql.data("{ systemHealth { status } }"))["systemHealth"]["status"] == "ok"


class _Counting:
    def __init__(self) -> None:
        self.repaired: list[tuple[FrameType, list[str]]] = []

    def frame_in(self, frame_type: FrameType) -> None: ...

    def frame_out(self, frame_type: FrameType) -> None: ...

    def protocol_error(self, kind: str) -> None: ...

    def output_repaired(self, frame_type: FrameType, paths: list[str]) -> None:
        self.repaired.append((frame_type, paths))


def _connected_session(observer: _Counting) -> Session:
    session = Session(Limits(), now=0.0, observer=observer)  # type: ignore[arg-type]
    connect = {"token": "t", "deviceId": "d", "platform": "test", "protocolVersion": 1}
    payload = msgpack.packb(connect)
    session.receive_data(len(payload + b"x").to_bytes(4, "big") + bytes([FrameType.CONNECT]) + payload, 0.0)
    session.authenticated(session_id="s", user_id="1", server_time_ms=0, update_seq=0)
    return session


def _hub_item(text: str) -> dict[str, Any]:
    return {
        "type": "channel_event", "channelId": 7, "pts": 5, "kind": "message", "actorId": 42, "at": 1767225600000,
        "message": {
            "id": 1001, "channelId": 7, "pts": 5, "senderId": 42, "clientMsgId": "c-1", "type": "text",
            "content": {"text": text}, "meta": None, "replyToId": None, "replyTo": None, "forwardedFromId": None,
            "mentions": [], "mentionAll": False, "createdAt": 1767225600000, "revoked": False, "revokedAt": None,
        },
        "payload": {},
    }  # fmt: skip


def test_native_push_and_rpc_with_poison_text_are_sent_repaired() -> None:
    observer = _Counting()
    frames = PushFrames(Api(ALL_OPERATIONS, HttpSettings()), on_repaired=observer.output_repaired)
    pushed = [frames.frame(_hub_item("bad \ud800")), frames.frame(_hub_item("fine"))]
    session = _connected_session(observer)
    actions = session.rpc_finished(7, data={"messages": [{"text": "ok"}, {"text": "\udc00"}]})
    sent = [frame for frame in pushed if frame is not None] + [a.data for a in actions if isinstance(a, Send)]
    bodies = [decode_body(data[5:]) for data in sent]
    assert [b["event"]["message"]["content"]["text"] for b in bodies[:2]] == ["bad \ufffd", "fine"]
    assert bodies[2] == {"id": 7, "ok": True, "data": {"messages": [{"text": "ok"}, {"text": "\ufffd"}]}}
    assert observer.repaired == [
        (FrameType.PUSH, ["event.message.content.text"]),
        (FrameType.RPC_RESULT, ["data.messages[1].text"]),
    ]
