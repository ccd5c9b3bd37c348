"""GraphQL over WebSocket: strawberry's protocol handlers, with every client message
checked for shape first, so malformed input gets the protocol's answer instead of an
exception inside the handler.

graphql-transport-ws closes with 4400 on a malformed message; the legacy graphql-ws
protocol has no close code for it and answers with an `error` message instead.
"""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from app.context import RequestContext
from app.errors import ErrorCode

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


class TransportWSHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    async def handle_message(self, message: Any) -> None:
        problem = transport_ws_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        if message["type"] == "connection_init" and message.get("payload") is None:
            message = {"type": "connection_init"}  # the protocol allows `payload: null`
        await super().handle_message(message)


class LegacyWSHandler(BaseGraphQLWSHandler[RequestContext, None]):
    async def handle_message(self, message: Any) -> None:
        problem = legacy_ws_problem(message)
        if problem is None:
            await super().handle_message(message)
            return
        error: dict[str, Any] = {
            "type": "error",
            "payload": {"message": problem, "extensions": {"code": ErrorCode.PROTOCOL_ERROR.value}},
        }
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            error["id"] = message["id"]
        await self.send_message(error)  # type: ignore[arg-type]
