"""Live events serialised once per process, whatever the number of subscribers.

The hub hands one decoded bus item to every listener of this process (all devices of a
user, all members of a group). Everything a subscriber receives for it is a pure function
of the item and, over GraphQL, of the subscription document and its variables: no field
of an event type reads the viewer (tests/unit/test_fanout.py checks the schema for it).
So the item becomes its GraphQL object once (`shared_event_object`), each distinct
document executes once per item and its `next` payload is encoded to JSON once
(`Fanout.payload`); identical subscribers then differ only by the subscription id that
the transport splices in (schema/ws.py). The native door caches its encoded PUSH frames
the same way (gateway_native/push.py).

The caches hold the items they are keyed by (by identity: a bus item is a fresh dict per
message and process), so an id is never reused while its entry lives; they are bounded,
and a subscriber that falls behind the window only recomputes the same bytes.
"""

from __future__ import annotations

import contextvars
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from graphql import GraphQLError, GraphQLSchema, parse
from graphql.execution import Executor, execute_subscription_event
from graphql.utilities import strip_ignored_characters
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.events import event_object
from schema.lru import Lru

K = TypeVar("K")
V = TypeVar("V")

ITEMS_KEPT = 2048  # hub items whose derived values stay cached (about 4 s of a 500 msg/s process)
DOCUMENTS_KEPT = 256  # distinct subscription documents (+ variables) with a built executor


class IdentityCache(Generic[V]):
    """Values derived from objects, keyed by the object's identity and a key (LRU)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, Any], tuple[object, V]] = OrderedDict()
        self.misses = 0

    def lookup(self, owner: object, key: Any) -> tuple[bool, V | None]:
        found = self._entries.get((id(owner), key))
        if found is not None and found[0] is owner:
            return True, found[1]
        return False, None

    def put(self, owner: object, key: Any, value: V) -> None:
        self.misses += 1
        self._entries[(id(owner), key)] = (owner, value)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def get(self, owner: object, key: Any, make: Callable[[], V]) -> V:
        hit, value = self.lookup(owner, key)
        if hit:
            return value  # type: ignore[return-value]
        value = make()
        self.put(owner, key, value)
        return value


_objects: IdentityCache[Any] = IdentityCache(ITEMS_KEPT)


def shared_event_object(message: dict[str, Any]) -> Any | None:
    """`event_object`, made once per hub item per process and shared by every subscriber
    (both doors), so the caches below can key by it."""
    return _objects.get(message, None, lambda: event_object(message))


def _own_memo(per_event: Executor) -> Executor:
    """graphql-core (3.3) shares its subfield memo between an executor and its per-event
    copies, keyed by field lists that every event creates anew: kept for the life of the
    subscription's executor, it grew by every event (found by bench/soak.py). One memo per
    event still serves its purpose (lists within the event)."""
    per_event._relevant_sub_fields = {}
    return per_event


class EventExecutor(Executor):
    """The shared path's executor (below): each subscription event with a memo of its own."""

    def build_per_event_executor(self, payload: Any) -> Executor:
        return _own_memo(super().build_per_event_executor(payload))


class SchemaExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, each subscription event with a memo of its own: the schema's
    (schema/build.py), for the subscriptions that take the per-subscriber path."""

    def build_per_event_executor(self, payload: Any) -> Executor:
        return _own_memo(super().build_per_event_executor(payload))


@lru_cache(maxsize=DOCUMENTS_KEPT)
def _canonical(query: str) -> str:
    """The document without what does not change its meaning (whitespace, commas,
    comments), so clients that format the same subscription differently share it."""
    try:
        return strip_ignored_characters(query)
    except GraphQLError:
        return query  # not a document: the normal path reports it


@dataclass(frozen=True, slots=True)
class Document:
    """A subscription operation as a client sent it, up to formatting: the cache key of
    its payloads."""

    query: str
    operation_name: str | None
    variables: str  # canonical JSON

    @classmethod
    def of(cls, query: str, operation_name: str | None, variables: dict[str, Any] | None) -> Document:
        variables_text = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
        return cls(_canonical(query), operation_name, variables_text)


class Fanout:
    """The per-process payload cache of the GraphQL `events` subscription."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self._schema = schema
        self._executors: Lru[Document, Executor | None] = Lru(DOCUMENTS_KEPT)
        self._payloads: IdentityCache[str | None] = IdentityCache(ITEMS_KEPT)

    @property
    def executions(self) -> int:
        """Documents executed for items so far (a test counts them against deliveries)."""
        return self._payloads.misses

    def executor(self, document: Document) -> Executor | None:
        """The document's executor (built once; None: leave it to the normal path)."""
        hit, known = self._executors.lookup(document)
        if hit:
            return known
        built: Executor | list[GraphQLError] | None
        try:
            built = EventExecutor.build(
                self._schema,
                parse(document.query),
                raw_variable_values=json.loads(document.variables),
                operation_name=document.operation_name,
            )
        except GraphQLError:
            built = None
        executor = built if isinstance(built, Executor) else None
        self._executors.put(document, executor)
        return executor

    async def payload(self, item: Any, document: Document, executor: Executor) -> str | None:
        """The JSON text of the `next` payload (`{"data": ...}`) of `item` for `document`,
        built once per process; None when executing it reported errors, which then take
        the normal path so they are formatted, coded and logged exactly as before."""
        hit, cached = self._payloads.lookup(item, document)
        if hit:
            return cached
        result: Any = execute_subscription_event(executor.build_per_event_executor(item))
        if isinstance(result, Awaitable):
            result = await result
        text = None if result.errors else json.dumps({"data": result.data}, separators=(",", ":"))
        self._payloads.put(item, document, text)
        return text


# The delivery of the subscription operation running in this task (set by the WebSocket
# transports in schema/ws.py): the `events` stream hands items to it instead of yielding
# them to a per-subscriber execution.
Deliver = Callable[[Any], Awaitable[bool]]
current_delivery: contextvars.ContextVar[Deliver | None] = contextvars.ContextVar("fanout_delivery", default=None)


class Encoded(dict[str, Any]):
    """A protocol message already encoded to JSON text, passed through the transport's
    `send_json` (schema/transport.py `GraphQLApp.encode_json` sends `text` as it is)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def delivery(fanout: Fanout, document: Document, frame_start: str, send: Callable[[Encoded], Awaitable[None]],
             *, stopped: Callable[[], bool] = lambda: False) -> Deliver:
    """The delivery of one subscription: `frame_start` + cached payload + `}` per item
    (the protocol's message with its subscription id, whose payload key comes last)."""
    executor: Executor | None = None

    async def deliver(item: Any) -> bool:
        nonlocal executor
        if executor is None:
            executor = fanout.executor(document)
            if executor is None:
                return False
        payload = await fanout.payload(item, document, executor)
        if payload is None:
            return False
        if not stopped():
            await send(Encoded(frame_start + payload + "}"))
        return True

    return deliver
