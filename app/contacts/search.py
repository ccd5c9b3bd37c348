"""account/search/query: find users by username or display-name prefix, or by exact
phone number or email, showing only those whose privacy admits the viewer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app import paging
from app.accounts import rules as account_rules
from app.accounts import search as user_search
from app.accounts.tables import User
from app.contacts import store
from app.contacts.policy import SocialPolicy
from app.contacts.search_proofs import SearchProofs
from app.contacts.views import Page
from app.db import Database
from app.errors import AppError, bad_input
from app.principal import Principal
from app.privacy.settings import FindVia

MAX_QUERY_LENGTH = 64
MAX_SEARCH_PAGE = 50
# Candidate rows one call may look at: hidden users are skipped, so a page can need more
# rows than it returns; past this the page comes back short, with a cursor to go on.
SCAN_BUDGET = 500
PHONE_LIKE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,}\Z")


class SearchMatch(StrEnum):
    USERNAME = "username"
    DISPLAY_NAME = "display_name"
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class SearchHit:
    user: User
    is_friend: bool
    matched_by: SearchMatch
    proof: str  # carried to contact/friend/apply (source SEARCH) to show this search found the user


def check_query(text: str) -> str:
    text = text.strip()
    if not text:
        raise bad_input("query must not be empty", field="query")
    if len(text) > MAX_QUERY_LENGTH:
        raise bad_input(f"query must be at most {MAX_QUERY_LENGTH} characters", field="query")
    if any(ord(c) < 32 or c == "\x7f" for c in text):
        raise bad_input("query must be printable text", field="query")
    return text


def exact_key(text: str) -> tuple[FindVia, str] | None:
    """A query that is a phone number or an email address is looked up exactly (never by
    prefix: that would let anyone enumerate numbers)."""
    try:
        if "@" in text:
            email = account_rules.check_email(text)
            return (FindVia.EMAIL, email) if email else None
        if PHONE_LIKE.match(text):
            phone = account_rules.check_phone(text)
            return (FindVia.PHONE, phone) if phone else None
    except AppError:
        return None  # not a valid address or number: search it as a name
    return None


class UserSearch:
    def __init__(self, *, db: Database, policy: SocialPolicy, proofs: SearchProofs) -> None:
        self.db = db
        self.policy = policy
        self.proofs = proofs

    async def query(self, principal: Principal, *, text: str, cursor: str | None, limit: int) -> Page[SearchHit]:
        paging.check_limit(limit, MAX_SEARCH_PAGE)
        text = check_query(text)
        after = paging.decode(cursor, str)
        exact = exact_key(text)
        if exact is not None:
            return Page([] if after is not None else await self._exact(principal.user_id, *exact), None)
        return await self._by_name(principal.user_id, text, after_key=str(after[0]) if after else None, limit=limit)

    async def _exact(self, viewer: int, via: FindVia, key: str) -> list[SearchHit]:
        async with self.db.read() as session:
            user = await (user_search.by_phone if via is FindVia.PHONE else user_search.by_email)(session, key)
            if user is None or user.id is None or user.id == viewer:
                return []
            if not await self.policy.may_find(session, viewer, user.id, via):
                return []
            friend = await store.are_friends(session, viewer, user.id)
        match = SearchMatch.PHONE if via is FindVia.PHONE else SearchMatch.EMAIL
        proof = self.proofs.issue(searcher_id=viewer, target_id=user.id, via=via)
        return [SearchHit(user, friend, match, proof)]

    async def _by_name(self, viewer: int, text: str, *, after_key: str | None, limit: int) -> Page[SearchHit]:
        prefix = text.lower()
        hits: list[tuple[str, SearchHit]] = []
        scanned, last_key, exhausted = 0, after_key, False
        batch_size = max(2 * limit, 20)
        async with self.db.read() as session:
            while len(hits) <= limit and scanned < SCAN_BUDGET:
                size = min(batch_size, SCAN_BUDGET - scanned)
                batch = await user_search.by_name_prefix(
                    session, text, after_key=last_key, limit=size, exclude_id=viewer
                )
                scanned += len(batch)
                ids = [u.id for u in batch if u.id is not None]
                visible = await self.policy.findable(session, viewer, ids, FindVia.USERNAME)
                friends = await store.friends_among(session, viewer, visible)
                for user in batch:
                    last_key = user.username_key
                    if user.id in visible:
                        match = (
                            SearchMatch.USERNAME if user.username_key.startswith(prefix) else SearchMatch.DISPLAY_NAME
                        )
                        # A display-name match is admitted by the username audience too.
                        proof = self.proofs.issue(searcher_id=viewer, target_id=user.id, via=FindVia.USERNAME)
                        hits.append((user.username_key, SearchHit(user, user.id in friends, match, proof)))
                if len(batch) < size:
                    exhausted = True
                    break
        if len(hits) > limit:
            return Page([h for _, h in hits[:limit]], paging.encode(hits[limit - 1][0]))
        if exhausted or last_key is None:
            return Page([h for _, h in hits], None)
        return Page([h for _, h in hits], paging.encode(last_key))  # budget spent: go on from here
