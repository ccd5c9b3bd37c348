"""What the GraphQL machinery (strawberry + graphql-core) and the native door's argument
handling cost per request, in process, with the operation itself stubbed out. Not a test.

    .venv/bin/python -m bench.graphql_overhead [--seconds 3]

`message/send` is run three ways with the same input and the same stub answer (a full
`Message`): `Operation.invoke` alone (admission, input check, metrics: the shared path),
the native door (`Api.call`: args -> input object, invoke, output -> plain maps), and
GraphQL (`schema.execute` of the document clients send, with variables: document cache,
validation cache, variable coercion, argument conversion, execution, result building).
The differences are each door's own overhead per request.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from app.config import HttpSettings, Settings
from app.context import RequestContext
from app.metrics import Metrics
from app.principal import Principal
from resolvers import ALL_OPERATIONS
from schema.build import Api
from schema.messages import Message, MessageSendPayload, MessageType, TextContent

DOCUMENT = """mutation Send($input: MessageSendInput!) {
  messageSend(input: $input) {
    message { id channelId pts senderId clientMsgId type createdAt content { ... on TextContent { text } } }
  }
}"""
ARGS = {"channelId": "7", "clientMsgId": "c-1", "content": {"text": {"text": "hello there"}}}


def stub_services() -> Any:
    principal = Principal(user_id=1, session_id=1, device_id="d")

    async def authenticate(token: str) -> Principal:
        return principal

    async def hit(*_: Any, **__: Any) -> None:
        return None

    settings = Settings()
    return SimpleNamespace(
        metrics=Metrics(),
        settings=settings,
        devices=SimpleNamespace(authenticate=authenticate),
        ratelimit=SimpleNamespace(hit=hit),
        admin_key_matches=lambda key: False,
    )


async def answer(ctx: RequestContext, input: Any) -> MessageSendPayload:
    return MessageSendPayload(
        message=Message(
            id="42", channel_id=input.channel_id, pts=9, sender_id="1", client_msg_id=input.client_msg_id,
            type=MessageType.TEXT, content=TextContent(text=input.content.text.text), meta=None, reply_to_id=None,
            reply_to=None, forwarded_from_id=None, mentions=[], mention_all=False,
            created_at=datetime(2026, 12, 1, tzinfo=UTC), revoked=False, revoked_at=None,
        )
    )


async def per_call(fn: Any, seconds: float) -> float:
    for _ in range(200):  # warm caches
        await fn()
    # CPU time of this process: the boxes are shared, and wall time mostly measures the neighbours.
    n, started, wall = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - wall < seconds:
        for _ in range(100):
            await fn()
        n += 100
    return (time.process_time() - started) / n * 1e6


async def main(seconds: float) -> None:
    api = Api(ALL_OPERATIONS, HttpSettings())
    op = api.registry.get("message/send")
    object.__setattr__(op, "fn", answer)  # the service stubbed: only the doors' own work is left
    services = stub_services()

    def ctx() -> RequestContext:
        return RequestContext(services=services, transport="bench", token="t", ip="127.0.0.1")

    input_obj = api.input_for(op, ARGS)

    async def direct() -> None:
        await op.invoke(ctx(), input_obj)

    async def native() -> None:
        await api.call("message/send", ctx(), ARGS)

    async def graphql() -> None:
        result = await api.schema.execute(DOCUMENT, variable_values={"input": ARGS}, context_value=ctx())
        assert not result.errors, result.errors

    base = await per_call(direct, seconds)
    via_native = await per_call(native, seconds)
    via_graphql = await per_call(graphql, seconds)
    print(f"{'path':<44}{'CPU us/call':>12}{'own overhead':>15}")
    print(f"{'Operation.invoke (shared path, stubbed op)':<44}{base:>12.1f}{'':>15}")
    print(f"{'native door (Api.call)':<44}{via_native:>12.1f}{via_native - base:>13.1f} us")
    print(f"{'GraphQL (schema.execute, cached document)':<44}{via_graphql:>12.1f}{via_graphql - base:>13.1f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    asyncio.run(main(parser.parse_args().seconds))
