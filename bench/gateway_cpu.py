"""CPU cost of the gateway's own work per message, in this process (no server, no
database): what the native door adds around the shared operation path. Not a test.

    .venv/bin/python -m bench.gateway_cpu

Measures, per call: decoding an RPC frame of `message/send` and running it through the
session state machine; coercing its args against the GraphQL input type (`Api.input_for`,
shared with GraphQL); turning the stored message into the RPC_RESULT map (`Api.to_wire`)
and encoding it; turning a hub item into a PUSH frame (shared `event_object` + `to_wire`
+ encoding) — everything on the send-to-push path except the resolver's database work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.config import HttpSettings
from gateway_native.codec import FrameType, encode
from gateway_native.push import push_body
from gateway_native.session import Limits, Session
from resolvers import ALL_OPERATIONS
from schema.build import Api
from schema.messages import Message

ARGS = {"channelId": "7", "clientMsgId": "c-0123456789", "content": {"text": {"text": "hello there, how are you?"}}}
MESSAGE = {
    "id": 1001, "channelId": 7, "pts": 5, "senderId": 42, "clientMsgId": "c-0123456789", "type": "text",
    "content": {"text": "hello there, how are you?"}, "meta": None, "replyToId": None, "replyTo": None,
    "forwardedFromId": None, "mentions": [], "mentionAll": False, "createdAt": 1767225600000, "revoked": False,
    "revokedAt": None,
}  # fmt: skip
HUB_ITEM = {
    "type": "channel_event", "channelId": 7, "pts": 5, "kind": "message", "actorId": 42, "at": 1767225600000,
    "message": MESSAGE, "payload": {},
}  # fmt: skip


def per_call_us(fn: Callable[[], Any], rounds: int = 20_000) -> float:
    for _ in range(500):
        fn()
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> None:
    api = Api(ALL_OPERATIONS, HttpSettings())
    op = api.registry.get("message/send")
    frame = encode(FrameType.RPC, {"id": 1, "route": "message/send", "args": ARGS})
    session = Session(Limits(max_inflight_rpcs=1_000_000), 0.0)
    session.receive_data(encode(FrameType.CONNECT, {"token": "t", "deviceId": "d", "protocolVersion": 1}), 0.0)
    session.authenticated(session_id="1", user_id="42", server_time_ms=0, update_seq=0)
    ids = iter(range(2, 10**9))

    def receive_rpc() -> None:
        rpc_id = next(ids)
        session.receive_data(encode(FrameType.RPC, {"id": rpc_id, "route": "message/send", "args": ARGS}), 0.0)
        session.rpc_finished(rpc_id, data={})

    payload = {"message": api.to_wire(Message.from_dict(MESSAGE))}

    def result() -> None:
        encode(
            FrameType.RPC_RESULT, {"id": 1, "ok": True, "data": {"message": api.to_wire(Message.from_dict(MESSAGE))}}
        )

    def push() -> None:
        body = push_body(api, dict(HUB_ITEM))  # a new item each time: no cache hit
        assert body is not None
        session.push(encode(FrameType.PUSH, body))

    rows = [
        ("RPC frame in: decode + session (+ an empty RPC_RESULT out)", per_call_us(receive_rpc)),
        ("args -> GraphQL input (shared with GraphQL)", per_call_us(lambda: api.input_for(op, ARGS))),
        ("result object -> map -> RPC_RESULT frame", per_call_us(result)),
        ("hub item -> event object -> PUSH frame", per_call_us(push)),
    ]
    result_frame = encode(FrameType.RPC_RESULT, {"id": 1, "ok": True, "data": payload})
    print(f"frame sizes: RPC {len(frame)} B, RPC_RESULT {len(result_frame)} B")
    for label, cost in rows:
        print(f"{label:<60} {cost:7.1f} µs")
    print(f"{'total around one send and its push':<60} {sum(c for _, c in rows):7.1f} µs")


if __name__ == "__main__":
    main()
