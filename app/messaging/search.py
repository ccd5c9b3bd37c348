"""message/history/search: find messages by their text across the caller's channels.

Only channels the caller is an active member of, only what that member may see
(after `visible_from_pts`), never revoked messages. Terms are matched as substrings,
case-insensitively; all must occur. The query is bounded and checked here: user text
reaches SQL only as bound parameters (LIKE metacharacters escaped, FTS5 terms quoted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app import paging
from app.channels import log_store
from app.channels.log import ChannelLog
from app.db import Database
from app.errors import bad_input
from app.messaging import search_store
from app.messaging.content import MessageType
from app.messaging.search_store import SearchCriteria
from app.messaging.tables import Message
from app.principal import Principal

MAX_QUERY_LENGTH = 128  # characters
MAX_TERMS = 8
MAX_PAGE = 50
# Only these types carry searchable text (text, image caption, file name).
SEARCHABLE_TYPES = frozenset({MessageType.TEXT, MessageType.IMAGE, MessageType.FILE})


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    channel_id: int | None = None
    sender_id: int | None = None
    types: tuple[MessageType, ...] = ()
    created_after: int | None = None
    created_before: int | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    messages: list[Message]
    next_cursor: str | None
    replies: dict[int, Message] = field(default_factory=dict)  # quoted originals by id


def check_terms(query: str) -> tuple[str, ...]:
    """The query's whitespace-separated terms, or BAD_USER_INPUT."""
    if len(query) > MAX_QUERY_LENGTH:
        raise bad_input(f"query must be at most {MAX_QUERY_LENGTH} characters", field="query")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_input("query must be valid text", field="query") from None
    if any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in query):
        raise bad_input("query must be printable text", field="query")
    terms = tuple(dict.fromkeys(query.split()))
    if not terms:
        raise bad_input("query must not be empty", field="query")
    if len(terms) > MAX_TERMS:
        raise bad_input(f"at most {MAX_TERMS} words", field="query")
    return terms


def _check_time(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise bad_input(f"{name} must be >= 0", field=name)


class MessageSearch:
    def __init__(self, *, db: Database, log: ChannelLog) -> None:
        self.db = db
        self.log = log

    async def search(self, principal: Principal, req: SearchRequest, *, cursor: str | None, limit: int) -> SearchPage:
        paging.check_limit(limit, MAX_PAGE)
        terms = check_terms(req.query)
        _check_time("createdAfter", req.created_after)
        _check_time("createdBefore", req.created_before)
        if req.created_after is not None and req.created_before is not None and req.created_after >= req.created_before:
            raise bad_input("createdAfter must be before createdBefore", field="createdAfter")
        after = paging.decode_ints(cursor, 1)
        types = tuple(t.value for t in dict.fromkeys(req.types) if t in SEARCHABLE_TYPES)
        criteria = SearchCriteria(
            terms=terms,
            channel_id=req.channel_id,
            sender_id=req.sender_id,
            types=types,
            created_after=req.created_after,
            created_before=req.created_before,
        )
        async with self.db.read() as session:
            if req.channel_id is not None:
                # A channel the caller is not in reads as one that does not exist.
                await self.log.membership(session, req.channel_id, principal.user_id)
            if req.types and not types:
                return SearchPage([], None)  # none of the asked types has text to search
            rows = list(
                await search_store.search(
                    session, principal.user_id, criteria, before_id=after[0] if after else None, limit=limit + 1
                )
            )
            page = rows[:limit]
            replies = await log_store.messages_by_id(session, sorted({m.reply_to_id for m in page if m.reply_to_id}))
        more = len(rows) > limit and page[-1].id is not None
        return SearchPage(page, paging.encode(page[-1].id or 0) if more else None, replies)
