"""Items of the per-user `events` subscription (also pushed as native PUSH frames) and of
`sync/get_updates`. Each domain lists its update kinds here explicitly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Union

import strawberry

from schema.common import to_id


@strawberry.type(description="One or more device sessions of the user were revoked or kicked.")
class SessionRevokedEvent:
    seq: int
    session_ids: list[strawberry.ID]
    device_ids: list[str]
    reason: str

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> SessionRevokedEvent:
        return cls(
            seq=seq,
            session_ids=[to_id(i) for i in payload["sessionIds"]],
            device_ids=list(payload.get("deviceIds", [])),
            reason=payload.get("reason", "revoked"),
        )


@strawberry.type(description="The server could not deliver everything live: re-sync from the last pts/seq.")
class ResyncRequiredEvent:
    reason: str


# kind -> converter from (seq, payload) to the GraphQL object; the types in order.
UserUpdateConverter = Callable[[int, dict[str, Any]], Any]
USER_UPDATE_KINDS: dict[str, UserUpdateConverter] = {
    "session_revoked": SessionRevokedEvent.from_update,
}
USER_UPDATE_TYPES: tuple[type, ...] = (SessionRevokedEvent,)
CHANNEL_EVENT_TYPES: tuple[type, ...] = ()

UserUpdate = Annotated[Union[USER_UPDATE_TYPES], strawberry.union("UserUpdate")]  # type: ignore[valid-type]  # noqa: UP007
EVENT_TYPES: tuple[type, ...] = (*USER_UPDATE_TYPES, *CHANNEL_EVENT_TYPES, ResyncRequiredEvent)
Event = Annotated[Union[EVENT_TYPES], strawberry.union("Event")]  # type: ignore[valid-type]  # noqa: UP007


def user_update_object(kind: str, seq: int, payload: dict[str, Any]) -> Any | None:
    converter = USER_UPDATE_KINDS.get(kind)
    return converter(seq, payload) if converter is not None else None


def event_object(message: dict[str, Any]) -> Any | None:
    """A live bus message as the GraphQL object the stream yields (None: not for clients)."""
    kind = message.get("type")
    if kind == "user_update":
        return user_update_object(message["kind"], message["seq"], message.get("payload") or {})
    if kind == "resync_required":
        return ResyncRequiredEvent(reason=message.get("reason", "overflow"))
    return None
