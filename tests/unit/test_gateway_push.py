"""Hub items as PUSH bodies: the same GraphQL objects as the `events` subscription, built
once per item however many local connections receive it."""

from __future__ import annotations

from app.config import HttpSettings
from gateway_native.push import PushBodies, revocation
from resolvers import ALL_OPERATIONS
from schema.build import Api

MESSAGE_EVENT = {
    "type": "channel_event", "channelId": 7, "pts": 5, "kind": "message", "actorId": 42, "at": 1767225600000,
    "message": {
        "id": 1001, "channelId": 7, "pts": 5, "senderId": 42, "clientMsgId": "c-1", "type": "text",
        "content": {"text": "hi"}, "meta": None, "replyToId": None, "replyTo": None, "forwardedFromId": None,
        "mentions": [], "mentionAll": False, "createdAt": 1767225600000, "revoked": False, "revokedAt": None,
    },
    "payload": {},
}  # fmt: skip
REVOKED = {
    "type": "user_update", "kind": "session_revoked", "seq": 3,
    "payload": {"sessionIds": [11, 12], "deviceIds": ["tablet"], "reason": "kicked"},
}  # fmt: skip


def test_a_message_event_becomes_the_subscription_object_with_typenames() -> None:
    body = PushBodies(Api(ALL_OPERATIONS, HttpSettings())).body(MESSAGE_EVENT)
    assert body is not None
    event = body["event"]
    assert (event["__typename"], event["channelId"], event["pts"]) == ("MessageEvent", "7", 5)
    assert event["message"]["id"] == "1001"
    assert event["message"]["content"] == {"__typename": "TextContent", "text": "hi"}


def test_one_body_per_item_for_every_connection_that_receives_it() -> None:
    bodies = PushBodies(Api(ALL_OPERATIONS, HttpSettings()), size=2)
    first = bodies.body(MESSAGE_EVENT)
    assert bodies.body(MESSAGE_EVENT) is first
    copy = {**MESSAGE_EVENT}
    assert bodies.body(copy) == first and bodies.body(copy) is not first  # another item, equal content
    assert bodies.body({"type": "session_ready", "sessionId": 1}) is None  # not for clients


def test_revocations_are_recognised_with_their_sessions_and_reason() -> None:
    assert revocation(REVOKED) == ([11, 12], "kicked")
    assert revocation(MESSAGE_EVENT) is None
    assert revocation({"type": "user_update", "kind": "session_revoked", "payload": {"sessionIds": ["x"]}}) == (
        [],
        "revoked",
    )
