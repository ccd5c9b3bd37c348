"""admin/user/* and admin/friendship/*: users and friendships managed by administrators.

Callers are authorised by the registry (Auth.ADMIN); these methods trust that and act.
Friendships made or ended here notify both users exactly as user actions do.
"""

from __future__ import annotations

import logging

from app import paging
from app.accounts import search as user_search
from app.accounts.service import AccountService
from app.accounts.tables import User
from app.contacts import store as contact_store
from app.contacts.service import ContactService
from app.contacts.tables import Friendship
from app.contacts.views import FriendView, Page
from app.db import Database
from app.errors import bad_input, not_found

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 64


class AdminService:
    def __init__(self, *, db: Database, accounts: AccountService, contacts: ContactService) -> None:
        self.db = db
        self.accounts = accounts
        self.contacts = contacts

    async def create_user(
        self,
        *,
        username: str,
        password: str,
        display_name: str | None,
        email: str | None,
        phone: str | None,
        is_admin: bool,
    ) -> User:
        user = await self.accounts.register(
            username=username,
            password=password,
            display_name=display_name,
            email=email,
            phone=phone,
            is_admin=is_admin,
        )
        log.info("admin created user %s (id %s, admin=%s)", user.username, user.id, is_admin)
        return user

    async def list_users(self, *, text: str | None, cursor: str | None, limit: int) -> Page[User]:
        paging.check_limit(limit)
        text = (text or "").strip() or None
        if text is not None and len(text) > MAX_QUERY_LENGTH:
            raise bad_input(f"query must be at most {MAX_QUERY_LENGTH} characters", field="query")
        after = paging.decode_ints(cursor, 1)
        async with self.db.read() as session:
            rows = await user_search.admin_page(
                session, text=text, after_id=after[0] if after else None, limit=limit + 1
            )
        items = rows[:limit]
        more = len(rows) > limit
        return Page(items, paging.encode(items[-1].id or 0) if more and items else None)

    async def user_friends(self, user_id: int, *, cursor: str | None, limit: int) -> Page[FriendView]:
        await self.accounts_exist(user_id)
        return await self.contacts.friends_of(user_id, cursor=cursor, limit=limit)

    async def create_friendship(self, user_id: int, friend_id: int) -> FriendView:
        view = await self.contacts.befriend_now(user_id, friend_id)
        log.info("admin made users %s and %s friends", user_id, friend_id)
        return view

    async def remove_friendship(self, user_id: int, friend_id: int) -> None:
        if user_id == friend_id:
            raise bad_input("a user is never their own friend", field="friendId")
        async with self.db.transaction() as tx:
            if not await self.contacts.unfriend(tx, user_id, friend_id, removed_by=None):
                raise not_found("friendship")
        log.info("admin ended the friendship of users %s and %s", user_id, friend_id)

    async def list_friendships(
        self, *, user_id: int | None, cursor: str | None, limit: int
    ) -> Page[tuple[Friendship, User, User]]:
        """Every friendship once (or those of one user), by user ids."""
        paging.check_limit(limit)
        after = paging.decode_ints(cursor, 2)
        async with self.db.read() as session:
            rows = await contact_store.friendship_pairs_page(
                session, user_id=user_id, after=(after[0], after[1]) if after else None, limit=limit + 1
            )
        items = rows[:limit]
        last = items[-1][0] if len(rows) > limit and items else None
        return Page(items, paging.encode(last.user_id, last.friend_id) if last else None)

    async def accounts_exist(self, *user_ids: int) -> None:
        async with self.db.read() as session:
            for user_id in user_ids:
                if await session.get(User, user_id) is None:
                    raise not_found("user")
