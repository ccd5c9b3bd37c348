"""Hub items as PUSH bodies: the same GraphQL objects as the `events` subscription, built
once per item however many local connections receive it."""

from __future__ import annotations

from app.config import HttpSettings
from gateway_native.codec import Decoder, FrameType
from gateway_native.push import PushFrames, revocation
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
    frame = PushFrames(Api(ALL_OPERATIONS, HttpSettings())).frame(MESSAGE_EVENT)
    assert frame is not None
    (decoded,) = Decoder().feed(frame)
    assert decoded.type is FrameType.PUSH
    event = decoded.body["event"]
    assert (event["__typename"], event["channelId"], event["pts"]) == ("MessageEvent", "7", 5)
    assert event["message"]["id"] == "1001"
    assert event["message"]["content"] == {"__typename": "TextContent", "text": "hi"}


def test_one_frame_per_item_for_every_connection_that_receives_it() -> None:
    frames = PushFrames(Api(ALL_OPERATIONS, HttpSettings()), size=2)
    first = frames.frame(MESSAGE_EVENT)
    assert frames.frame(MESSAGE_EVENT) is first
    assert frames.encodings == 1
    copy = {**MESSAGE_EVENT}
    assert frames.frame(copy) == first and frames.frame(copy) is not first  # another item, equal content
    assert frames.frame({"type": "session_ready", "sessionId": 1}) is None  # not for clients


def test_revocations_are_recognised_with_their_sessions_and_reason() -> None:
    assert revocation(REVOKED) == ([11, 12], "kicked")
    assert revocation(MESSAGE_EVENT) is None
    assert revocation({"type": "user_update", "kind": "session_revoked", "payload": {"sessionIds": ["x"]}}) == (
        [],
        "revoked",
    )


def test_json_values_are_pushed_too() -> None:
    """meta and the payload of kinds a client has no type for are JSON maps: they used to
    make the push fail ("cannot put dict on the wire") and the item was dropped."""
    frames = PushFrames(Api(ALL_OPERATIONS, HttpSettings()))
    with_meta = {**MESSAGE_EVENT, "message": {**MESSAGE_EVENT["message"], "meta": {"k": [1, {"x": None}]}}}  # type: ignore[dict-item]
    future = {"type": "channel_event", "kind": "future_kind", "channelId": 7, "pts": 6, "payload": {"a": {"b": 1}}}
    decoder = Decoder()
    (meta_frame,) = decoder.feed(frames.frame(with_meta) or b"")
    assert meta_frame.body["event"]["message"]["meta"] == {"k": [1, {"x": None}]}
    (other,) = decoder.feed(frames.frame(future) or b"")
    assert other.body["event"]["__typename"] == "OtherChannelEvent"
    assert other.body["event"]["payload"] == {"a": {"b": 1}}
