"""GraphQL over WebSocket: strawberry's protocol handlers, with every client message
checked for shape first, so malformed input gets the protocol's answer instead of an
exception inside the handler.

graphql-transport-ws closes with 4400 on a malformed message; the legacy graphql-ws
protocol has no close code for it and answers with an `error` message instead. Both run
queries and mutations as well as subscriptions.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.execution import ExecutionResult, PreExecutionError

from app.context import RequestContext
from app.errors import AppError, ErrorCode
from schema.fanout import Document, Fanout, current_delivery, delivery

TRANSPORT_WS_TYPES = frozenset({"connection_init", "ping", "pong", "subscribe", "complete"})
LEGACY_WS_TYPES = frozenset({"connection_init", "connection_terminate", "start", "stop"})


def _payload_problem(payload: Any) -> str | None:
    """The subscribe/start payload: {query, operationName?, variables?, extensions?}."""
    if not isinstance(payload, dict):
        return "the payload must be an object"
    if not isinstance(payload.get("query"), str) or not payload["query"]:
        return "payload.query must be a non-empty string"
    for key, kind in (("operationName", str), ("variables", dict), ("extensions", dict)):
        if payload.get(key) is not None and not isinstance(payload[key], kind):
            return f"payload.{key} must be {'a string' if kind is str else 'an object'} or null"
    return None


def transport_ws_problem(message: Any) -> str | None:
    """What is wrong with a graphql-transport-ws client message, or None."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be an object with a string `type`"
    kind = message["type"]
    if kind not in TRANSPORT_WS_TYPES:
        return f"unknown message type {kind!r}"
    if kind in ("subscribe", "complete") and (not isinstance(message.get("id"), str) or not message["id"]):
        return f"a {kind} message needs a non-empty string `id`"
    if kind == "subscribe":
        return _payload_problem(message.get("payload"))
    payload = message.get("payload")
    if payload is not None and not isinstance(payload, dict):
        return f"the {kind} payload must be an object or null"
    return None


def legacy_ws_problem(message: Any) -> str | None:
    """What is wrong with a graphql-ws (subscriptions-transport-ws) client message, or None."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be an object with a string `type`"
    kind = message["type"]
    if kind not in LEGACY_WS_TYPES:
        return f"unknown message type {kind!r}"
    if kind in ("start", "stop") and (not isinstance(message.get("id"), str) or not message["id"]):
        return f"a {kind} message needs a non-empty string `id`"
    if kind == "start":
        return _payload_problem(message.get("payload"))
    return None


# Close codes for a connection_init the server could not check (not a refused token):
# 1013 "try again later" when a dependency is down (graphql-ws clients retry it),
# 4500 (the protocol's internal error) for a bug.
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_INTERNAL_ERROR = 4500


class ConnectionInitFailed(Exception):
    """`on_ws_connect` could not decide (database down, bug): not a refusal (4403)."""

    def __init__(self, error: AppError) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def close_code(self) -> int:
        return CLOSE_TRY_AGAIN_LATER if self.error.code is ErrorCode.UNAVAILABLE else CLOSE_INTERNAL_ERROR


class TransportWSHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    async def handle_message(self, message: Any) -> None:
        problem = transport_ws_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        if message["type"] == "connection_init" and message.get("payload") is None:
            message = {"type": "connection_init"}  # the protocol allows `payload: null`
        await super().handle_message(message)

    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        fanout: Fanout | None = getattr(self.view, "fanout", None)
        if fanout is not None:  # this task's items go out as `next` texts built once per process
            document = Document.of(operation.query, operation.operation_name, operation.variables)
            start = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":'
            current_delivery.set(
                delivery(fanout, document, start, self.send_message, stopped=lambda: operation.completed)  # type: ignore[arg-type]
            )
        await super().run_operation(operation)

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except ConnectionInitFailed as exc:
            await self.websocket.close(code=exc.close_code, reason=exc.error.message)


class LegacyWSHandler(BaseGraphQLWSHandler[RequestContext, None]):
    """graphql-ws (subscriptions-transport-ws). Its clients (Apollo's old link, gql's
    legacy transport) send queries and mutations over the socket too: each gets its
    `data` and `complete`, as on graphql-transport-ws; subscriptions stream."""

    _init_seen = False

    async def handle_message(self, message: Any) -> None:
        problem = legacy_ws_problem(message)
        if problem is None:
            if message["type"] == "connection_init":
                # One per connection, as graphql-transport-ws rules (each would authenticate
                # again and start another keep-alive task).
                if self._init_seen:
                    await self.websocket.close(code=4429, reason="Too many initialisation requests")
                    return
                self._init_seen = True
            await super().handle_message(message)
            return
        error: dict[str, Any] = {
            "type": "error",
            "payload": {"message": problem, "extensions": {"code": ErrorCode.PROTOCOL_ERROR.value}},
        }
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            error["id"] = message["id"]
        await self.send_message(error)  # type: ignore[arg-type]

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except ConnectionInitFailed as exc:
            await self.send_message({"type": "connection_error", "payload": exc.error.as_dict()})  # type: ignore[typeddict-item]
            await self.websocket.close(code=exc.close_code, reason=exc.error.message)

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: dict[str, object] | None
    ) -> None:
        # strawberry's version runs `schema.subscribe`, which refuses anything but a
        # subscription ("queries are not allowed"); `schema.stream` runs every operation.
        fanout: Fanout | None = getattr(self.view, "fanout", None)
        if fanout is not None:  # this task's items go out as `data` texts built once per process
            start = '{"type":"data","id":' + json.dumps(operation_id) + ',"payload":'
            document = Document.of(query, operation_name, variables)
            current_delivery.set(delivery(fanout, document, start, self.send_message))  # type: ignore[arg-type]
        try:
            result_source = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = result_source
            is_first_result = True
            async for result in result_source:
                if is_first_result and isinstance(result, PreExecutionError):
                    assert result.errors
                    payload = result.errors[0].formatted
                    await self.send_message({"type": "error", "id": operation_id, "payload": payload})
                    return
                if not isinstance(result, ExecutionResult):  # incremental delivery has no frame here
                    error = GraphQLError("incremental delivery (@defer, @stream) is not supported over graphql-ws")
                    await self.send_message({"type": "error", "id": operation_id, "payload": error.formatted})
                    return
                await self.send_data_message(result, operation_id)
                is_first_result = False
            await self.send_message({"type": "complete", "id": operation_id})
        except asyncio.CancelledError:
            await self.send_message({"type": "complete", "id": operation_id})
        finally:
            # Released whatever ended the operation, so its id can be reused at once.
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)
