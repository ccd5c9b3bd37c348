"""message/history/search types."""

from __future__ import annotations

import strawberry

from app.messaging.content import MessageType as DomainMessageType
from app.messaging.search import SearchRequest
from schema.common import Long, parse_id
from schema.messages import Message, MessageType


@strawberry.input(description="Messages whose text contains every word of `query` (case-insensitive).")
class MessageHistorySearchInput:
    query: str = strawberry.field(description="1-8 words, at most 128 characters; each must occur in the text")
    channel_id: strawberry.ID | None = strawberry.field(default=None, description="only this channel")
    sender_id: strawberry.ID | None = strawberry.field(default=None, description="only messages of this user")
    types: list[MessageType] | None = strawberry.field(
        default=None, description="only these types (text is searched in TEXT, IMAGE captions and FILE names)"
    )
    created_after: Long | None = strawberry.field(default=None, description="sent at or after (ms since epoch)")
    created_before: Long | None = strawberry.field(default=None, description="sent before (ms since epoch)")
    limit: int = 20
    cursor: str | None = None

    def to_domain(self) -> SearchRequest:
        return SearchRequest(
            query=self.query,
            channel_id=parse_id(self.channel_id, "channelId") if self.channel_id is not None else None,
            sender_id=parse_id(self.sender_id, "senderId") if self.sender_id is not None else None,
            types=tuple(DomainMessageType(t.value) for t in self.types or ()),
            created_after=self.created_after,
            created_before=self.created_before,
        )


@strawberry.type
class MessageHistorySearchPayload:
    messages: list[Message] = strawberry.field(description="newest first")
    next_cursor: str | None = strawberry.field(description="pass as cursor for older matches; null: no more")
