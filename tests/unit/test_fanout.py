"""Live events serialised once per process (schema/fanout.py): what may be cached, and
what must take the per-subscriber path."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLUnionType, parse
from graphql.execution import execute_subscription_event
from strawberry.types.base import StrawberryObjectDefinition

from app.config import HttpSettings
from resolvers import ALL_OPERATIONS
from schema.build import Api
from schema.fanout import Document, SchemaExecutor, shared_event_object

MESSAGE = {
    "type": "channel_event", "channelId": 7, "pts": 5, "kind": "message", "actorId": 42, "at": 1767225600000,
    "message": {
        "id": 1001, "channelId": 7, "pts": 5, "senderId": 42, "clientMsgId": "c-1", "type": "text",
        "content": {"text": "hi"}, "meta": {"a": [1]}, "replyToId": None, "replyTo": None, "forwardedFromId": None,
        "mentions": [43], "mentionAll": False, "createdAt": 1767225600000, "revoked": False, "revokedAt": None,
    },
    "payload": {},
}  # fmt: skip
QUERY = "subscription { events { __typename ... on MessageEvent { pts message { id meta mentions createdAt } } } }"


def api() -> Api:
    return Api(ALL_OPERATIONS, HttpSettings())


def _reachable(type_: Any, seen: set[str]) -> None:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if not isinstance(type_, GraphQLObjectType | GraphQLUnionType) or type_.name in seen:
        return
    seen.add(type_.name)
    if isinstance(type_, GraphQLUnionType):
        for member in type_.types:
            _reachable(member, seen)
    else:
        for field in type_.fields.values():
            _reachable(field.type, seen)


def test_no_field_of_a_live_event_depends_on_the_viewer() -> None:
    """Every field of every type a subscription item can hold (`events` is the one
    subscription) is a plain attribute of the object made from the bus item: that is what
    lets one execution serve every subscriber. A field with a resolver (which could read
    the viewer from the context) must first get its own per-viewer handling in
    schema/fanout.py."""
    schema = api().schema
    subscription = schema._schema.subscription_type
    assert subscription is not None
    names: set[str] = set()
    for field in subscription.fields.values():
        _reachable(field.type, names)
    assert {"MessageEvent", "Message", "TextContent", "SessionRevokedEvent", "TypingEvent"} <= names
    with_resolvers = []
    for name in sorted(names):
        definition = schema.get_type_by_name(name)
        if not isinstance(definition, StrawberryObjectDefinition):
            continue  # a union: its members are in `names`
        with_resolvers += [f"{name}.{f.name}" for f in definition.fields if f.base_resolver is not None]
    assert with_resolvers == []


async def test_one_execution_per_item_and_document() -> None:
    fanout = api().fanout
    document = Document.of(QUERY, None, None)
    executor = fanout.executor(document)
    assert executor is not None and fanout.executor(Document.of(QUERY, None, {})) is executor
    item = shared_event_object(MESSAGE)
    assert shared_event_object(MESSAGE) is item
    first = await fanout.payload(item, document, executor)
    assert first is not None and await fanout.payload(item, document, executor) is first
    assert fanout.executions == 1
    assert json.loads(first) == {
        "data": {"events": {"__typename": "MessageEvent", "pts": 5, "message": {
            "id": "1001", "meta": {"a": [1]}, "mentions": ["43"], "createdAt": "2026-01-01T00:00:00+00:00"}}}
    }  # fmt: skip
    other = shared_event_object({**MESSAGE})  # another item: executed on its own
    assert await fanout.payload(other, document, executor) == first
    assert fanout.executions == 2


async def test_variables_and_operation_name_are_part_of_the_document() -> None:
    fanout = api().fanout
    query = "subscription A($p: Boolean!) { events { ... on ChannelEvent { pts @include(if: $p) channelId } } }"
    item = shared_event_object(MESSAGE)
    with_pts, without = Document.of(query, "A", {"p": True}), Document.of(query, "A", {"p": False})
    assert with_pts != without
    executor_with, executor_without = fanout.executor(with_pts), fanout.executor(without)
    assert executor_with is not None and executor_without is not None
    assert json.loads(await fanout.payload(item, with_pts, executor_with) or "") == {
        "data": {"events": {"pts": 5, "channelId": "7"}}
    }
    assert json.loads(await fanout.payload(item, without, executor_without) or "") == {
        "data": {"events": {"channelId": "7"}}
    }
    assert fanout.executor(Document.of(query, "Unknown", {"p": True})) is None  # the normal path reports it


async def test_an_item_whose_execution_fails_takes_the_normal_path() -> None:
    fanout = api().fanout
    document = Document.of(QUERY, None, None)
    executor = fanout.executor(document)
    assert executor is not None
    broken = {**MESSAGE, "pts": "not a number"}  # Int! cannot serialise it
    item = shared_event_object(broken)
    assert await fanout.payload(item, document, executor) is None
    assert await fanout.payload(item, document, executor) is None
    assert fanout.executions == 1


async def test_executing_events_keeps_nothing_per_event_in_the_documents_executor() -> None:
    """A subscription lives for hours: what executing its events memoises must not pile up
    in the document's executor (graphql-core shares its subfield memo with per-event
    copies; the soak found it growing with every event)."""
    fanout = api().fanout
    document = Document.of(QUERY, None, None)
    executor = fanout.executor(document)
    assert executor is not None
    for pts in range(1, 201):
        item = shared_event_object({**MESSAGE, "pts": pts, "message": {**MESSAGE["message"], "pts": pts}})
        assert await fanout.payload(item, document, executor) is not None
    assert fanout.executions == 200
    assert len(executor._relevant_sub_fields) == 0


async def test_the_per_subscriber_path_keeps_nothing_per_event_either() -> None:
    """Items the shared path cannot carry (an execution reporting errors, a document it
    cannot build) go through strawberry's own subscription execution: its executor must
    not keep a memo entry per event for the life of the subscription either."""
    schema = api().schema
    assert schema.execution_context_class is SchemaExecutor
    executor = SchemaExecutor.build(schema._schema, parse(QUERY))
    assert isinstance(executor, SchemaExecutor)
    for pts in range(1, 101):
        item = shared_event_object({**MESSAGE, "pts": pts, "message": {**MESSAGE["message"], "pts": pts}})
        result = execute_subscription_event(executor.build_per_event_executor(item))
        assert not isinstance(result, Awaitable) and result.errors is None and result.data is not None
        assert result.data["events"]["pts"] == pts
    assert len(executor._relevant_sub_fields) == 0


def test_documents_differing_only_in_formatting_share_their_payloads() -> None:
    compact = Document.of(QUERY, None, None)
    spread = Document.of(
        """subscription {
          # what the feed shows
          events {
            __typename,
            ... on MessageEvent { pts, message { id meta mentions createdAt } }
          }
        }""",
        None,
        {},
    )
    assert spread == compact
    assert Document.of(QUERY.replace("pts", "channelId"), None, None) != compact  # another selection
    assert Document.of(QUERY, "Named", None) != compact
    assert Document.of(QUERY, None, {"x": 1}) != compact
    # What is not a document keeps a key of its own, and its executor is left to the normal
    # path (which reports the error).
    assert Document.of('subscription { events { "', None, None).query == 'subscription { events { "'
    assert api().fanout.executor(Document.of("subscription { events { ", None, None)) is None
