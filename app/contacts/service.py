"""contact/friend/*: friend requests, friendships and aliases.

Every change to a pair's friendship state runs in one transaction that first takes the
pair's request row (`store.lock_pair`) or settles it with a conditional UPDATE, so crossing
requests become one friendship and of a racing accept and recall exactly one wins; the
two rows of a friendship are written and deleted together. Notifications are user
updates appended in the same transaction (`Outbox`), delivered live after commit.
How a block affects friends and requests: app/contacts/blacklist.py.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app import paging
from app.accounts import store as account_store
from app.accounts.tables import User
from app.channels.service import ChannelService
from app.contacts import rules, store
from app.contacts.policy import ApplyVerdict, SocialPolicy
from app.contacts.rules import FriendSource, RequestStatus
from app.contacts.search_proofs import check_proof_text
from app.contacts.tables import FriendRequest
from app.contacts.users import active_user, existing_user
from app.contacts.views import (
    ApplyOutcome,
    ApplyResult,
    FriendView,
    Page,
    Relation,
    RequestView,
    user_card,
)
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, bad_input, not_found
from app.principal import Principal
from app.qrcodes.service import parse_code
from app.sync.outbox import Outbox
from app.sync.updates import UserUpdates


class ContactService:
    def __init__(self, *, db: Database, updates: UserUpdates, channels: ChannelService, policy: SocialPolicy) -> None:
        self.db = db
        self.updates = updates
        self.channels = channels
        self.policy = policy

    # -- friend requests ----------------------------------------------------------------

    async def apply(
        self,
        principal: Principal,
        *,
        user_id: int,
        message: str | None,
        source: str | FriendSource,
        qr_token: str | None = None,
        search_proof: str | None = None,
    ) -> ApplyResult:
        """Ask `user_id` to be friends. Crossing requests, and targets who accept without
        approval, make them friends at once. `qr_token` (source QRCODE) and `search_proof`
        (SEARCH, PHONE) are what proves the source (app/contacts/policy.py)."""
        me = principal.user_id
        rules.check_other(me, user_id, "send a friend request to")
        checked_source = rules.check_source(source)
        text = rules.check_message(message)
        token = parse_code(qr_token) if qr_token else None
        proof = check_proof_text(search_proof)
        now = now_ms()
        outbox = Outbox()
        async with self.db.transaction() as tx:
            s = tx.session
            target = await active_user(s, user_id)
            requester = await active_user(s, me)
            row = await store.lock_pair(s, me, user_id, now)
            if await store.are_friends(s, me, user_id):
                raise AppError(ErrorCode.CONFLICT, "you are friends already", reason="friends")
            if await store.get_block(s, me, user_id) is not None:
                raise AppError(
                    ErrorCode.CONFLICT, "this user is in your blacklist: remove them from it first", reason="blocked"
                )
            pending = row.status == RequestStatus.PENDING.value
            if pending and row.from_user_id == me:
                raise AppError(ErrorCode.CONFLICT, "a friend request to this user is pending already", reason="pending")
            if pending:
                # Crossing requests: theirs came first, and this one accepts it.
                request = await store.settle_request(
                    s, from_id=user_id, to_id=me, status=RequestStatus.ACCEPTED, at=now
                )
                assert request is not None  # we hold the pair's lock
                friend = await self._befriend(
                    tx,
                    outbox,
                    (requester, checked_source),
                    (target, FriendSource(request.source)),
                    request.id,
                    accepted=request,
                )
                result = ApplyResult(ApplyOutcome.FRIENDS, RequestView(request, target, incoming=True), friend)
            else:
                verdict = await self.policy.check_may_apply(
                    s, me, user_id, checked_source, qr_token=token, search_proof=proof
                )
                status = RequestStatus.PENDING if verdict is ApplyVerdict.NEEDS_APPROVAL else RequestStatus.ACCEPTED
                assert row.id is not None
                await store.write_request(
                    s, row.id, from_id=me, to_id=user_id, status=status, message=text, source=checked_source, at=now
                )
                request = await self._request(s, me, user_id)
                view = RequestView(request, target, incoming=False)
                if status is RequestStatus.PENDING:
                    outbox.add(
                        user_id,
                        "friend_request_received",
                        {
                            **self._request_ids(request),
                            "user": user_card(requester),
                            "message": text,
                            "source": checked_source.value,
                        },
                    )
                    result = ApplyResult(ApplyOutcome.PENDING, view)
                else:
                    friend = await self._befriend(
                        tx, outbox, (requester, checked_source), (target, checked_source), request.id
                    )
                    result = ApplyResult(ApplyOutcome.FRIENDS, view, friend)
            await outbox.flush(self.updates, tx)
        return result

    async def accept(self, principal: Principal, *, user_id: int) -> FriendView:
        """Accept the pending request from `user_id`: friends, with a direct channel."""
        me = principal.user_id
        rules.check_other(me, user_id, "accept a friend request from")
        now = now_ms()
        outbox = Outbox()
        async with self.db.transaction() as tx:
            s = tx.session
            requester = await active_user(s, user_id)
            acceptor = await active_user(s, me)
            if await store.get_block(s, me, user_id) is not None:
                raise AppError(
                    ErrorCode.CONFLICT, "this user is in your blacklist: remove them from it first", reason="blocked"
                )
            request = await store.settle_request(s, from_id=user_id, to_id=me, status=RequestStatus.ACCEPTED, at=now)
            if request is None:
                raise await self._not_pending(s, from_id=user_id, to_id=me)
            source = FriendSource(request.source)
            friend = await self._befriend(
                tx, outbox, (acceptor, source), (requester, source), request.id, accepted=request
            )
            await outbox.flush(self.updates, tx)
        return friend

    async def reject(self, principal: Principal, *, user_id: int) -> RequestView:
        """Turn down the pending request from `user_id`; the requester is told."""
        me = principal.user_id
        rules.check_other(me, user_id, "reject a friend request from")
        async with self.db.transaction() as tx:
            s = tx.session
            requester = await existing_user(s, user_id)
            request = await store.settle_request(
                s, from_id=user_id, to_id=me, status=RequestStatus.REJECTED, at=now_ms()
            )
            if request is None:
                raise await self._not_pending(s, from_id=user_id, to_id=me)
            await self.updates.append(
                tx, user_id, "friend_request_rejected", {**self._request_ids(request), "userId": me}
            )
        return RequestView(request, requester, incoming=True)

    async def recall(self, principal: Principal, *, user_id: int) -> RequestView:
        """Withdraw the caller's pending request to `user_id`."""
        me = principal.user_id
        rules.check_other(me, user_id, "recall a friend request to")
        async with self.db.transaction() as tx:
            s = tx.session
            target = await existing_user(s, user_id)
            request = await store.settle_request(
                s, from_id=me, to_id=user_id, status=RequestStatus.RECALLED, at=now_ms()
            )
            if request is None:
                raise await self._not_pending(s, from_id=me, to_id=user_id)
            await self.updates.append(tx, user_id, "friend_request_recalled", self._request_ids(request))
        return RequestView(request, target, incoming=False)

    async def pending(
        self, principal: Principal, *, incoming: bool, cursor: str | None, limit: int
    ) -> Page[RequestView]:
        paging.check_limit(limit)
        before = paging.decode_ints(cursor, 2)
        async with self.db.read() as session:
            rows = await store.requests_page(
                session,
                principal.user_id,
                incoming=incoming,
                before=(before[0], before[1]) if before else None,
                limit=limit + 1,
            )
        items = [RequestView(r, u, incoming=incoming) for r, u in rows[:limit]]
        last = items[-1].request if len(rows) > limit else None
        return Page(items, paging.encode(last.updated_at, last.id or 0) if last else None)

    # -- friendships --------------------------------------------------------------------

    async def remove(self, principal: Principal, *, user_id: int) -> None:
        """End a friendship; both users are told (the direct channel and its history stay)."""
        me = principal.user_id
        rules.check_other(me, user_id, "remove")
        async with self.db.transaction() as tx:
            await existing_user(tx.session, user_id)
            if not await self.unfriend(tx, me, user_id, removed_by=me):
                raise not_found("friend")

    async def list_friends(self, principal: Principal, *, cursor: str | None, limit: int) -> Page[FriendView]:
        return await self.friends_of(principal.user_id, cursor=cursor, limit=limit)

    async def friends_of(self, user_id: int, *, cursor: str | None, limit: int) -> Page[FriendView]:
        paging.check_limit(limit)
        after = paging.decode_ints(cursor, 1)
        async with self.db.read() as session:
            rows = await store.friends_page(
                session, user_id, after_friend_id=after[0] if after else None, limit=limit + 1
            )
            rows_page = rows[:limit]
            channels = await store.direct_channels(session, user_id, [f.friend_id for f, _ in rows_page])
        items = [FriendView(f, u, channels.get(f.friend_id)) for f, u in rows_page]
        more = len(rows) > limit
        return Page(items, paging.encode(items[-1].friendship.friend_id) if more and items else None)

    async def set_alias(self, principal: Principal, *, user_id: int, alias: str | None) -> FriendView:
        """Name a friend privately (empty or null clears); the caller's devices are told."""
        me = principal.user_id
        rules.check_other(me, user_id, "set an alias for")
        alias = rules.check_alias(alias)
        async with self.db.transaction() as tx:
            s = tx.session
            if not await store.set_alias(s, me, user_id, alias):
                raise not_found("friend")
            await self.updates.append(tx, me, "friend_alias_changed", {"userId": user_id, "alias": alias})
            view = await self._friend_view(s, me, user_id)
        assert view is not None
        return view

    async def relation(self, principal: Principal, *, user_id: int) -> Relation:
        """`contact/friend/check`: friendship, pending requests and the caller's block."""
        me = principal.user_id
        rules.check_other(me, user_id, "check")
        async with self.db.read() as session:
            user = await existing_user(session, user_id)
            friend = await self._friend_view(session, me, user_id)
            blocked = await store.get_block(session, me, user_id) is not None
            request = await store.get_request(session, me, user_id)
        incoming = outgoing = None
        if request is not None and request.status == RequestStatus.PENDING.value:
            if request.from_user_id == me:
                outgoing = RequestView(request, user, incoming=False)
            elif not blocked:
                incoming = RequestView(request, user, incoming=True)
        return Relation(user=user, friend=friend, incoming=incoming, outgoing=outgoing, blocked=blocked)

    async def befriend_now(self, a: int, b: int) -> FriendView:
        """Make two users friends without a request (administrators). A pending request
        between them is settled as accepted. CONFLICT if they are friends already."""
        if a == b:
            raise bad_input("a user cannot befriend themselves", field="friendId")
        now = now_ms()
        outbox = Outbox()
        async with self.db.transaction() as tx:
            s = tx.session
            first = await existing_user(s, a)
            second = await existing_user(s, b)
            row = await store.lock_pair(s, a, b, now)
            if await store.are_friends(s, a, b):
                raise AppError(ErrorCode.CONFLICT, "they are friends already", reason="friends")
            request_id = None
            if row.status == RequestStatus.PENDING.value:
                request = await store.settle_request(
                    s, from_id=row.from_user_id, to_id=row.to_user_id, status=RequestStatus.ACCEPTED, at=now
                )
                request_id = request.id if request is not None else None
            friend = await self._befriend(
                tx, outbox, (first, FriendSource.ADMIN), (second, FriendSource.ADMIN), request_id
            )
            await outbox.flush(self.updates, tx)
        return friend

    async def unfriend(self, tx: Transaction, a: int, b: int, *, removed_by: int | None) -> bool:
        """Delete both rows of a friendship in `tx`; both users get `friend_removed`."""
        if not await store.delete_friendship(tx.session, a, b):
            return False
        outbox = Outbox()
        outbox.add(a, "friend_removed", {"userId": b, "removedBy": removed_by})
        outbox.add(b, "friend_removed", {"userId": a, "removedBy": removed_by})
        await outbox.flush(self.updates, tx)
        return True

    # -- helpers ------------------------------------------------------------------------

    async def _befriend(
        self,
        tx: Transaction,
        outbox: Outbox,
        a: tuple[User, FriendSource],
        b: tuple[User, FriendSource],
        request_id: int | None,
        *,
        accepted: FriendRequest | None = None,
    ) -> FriendView:
        """Both rows and the direct channel, in `tx`; `friend_added` to both if new, after
        `friend_request_accepted` to the requester when `accepted` (accepted by `a`) is given.
        Returns the friendship as `a` sees it."""
        (user_a, source_a), (user_b, source_b) = a, b
        assert user_a.id is not None and user_b.id is not None
        created = await store.insert_friendship(
            tx.session, user_a.id, user_b.id, source_a=source_a.value, source_b=source_b.value, at=now_ms()
        )
        low, high = sorted((user_a.id, user_b.id))
        channel, _ = await self.channels.get_or_create_direct(tx, low, high)
        if accepted is not None:
            outbox.add(
                accepted.from_user_id,
                "friend_request_accepted",
                {**self._request_ids(accepted), "user": user_card(user_a), "channelId": channel.id},
            )
        if created:
            for me, other, source in ((user_a, user_b, source_a), (user_b, user_a, source_b)):
                assert me.id is not None
                outbox.add(
                    me.id,
                    "friend_added",
                    {
                        "userId": other.id,
                        "user": user_card(other),
                        "channelId": channel.id,
                        "source": source.value,
                        "requestId": request_id,
                    },
                )
        friendship = await store.get_friendship(tx.session, user_a.id, user_b.id)
        assert friendship is not None
        return FriendView(friendship, user_b, channel.id)

    @staticmethod
    def _request_ids(request: FriendRequest) -> dict[str, int | None]:
        return {"requestId": request.id, "fromUserId": request.from_user_id, "toUserId": request.to_user_id}

    async def _friend_view(self, session: AsyncSession, user_id: int, friend_id: int) -> FriendView | None:
        friendship = await store.get_friendship(session, user_id, friend_id)
        if friendship is None:
            return None
        user = await account_store.get_user(session, friend_id)
        assert user is not None
        channels = await store.direct_channels(session, user_id, [friend_id])
        return FriendView(friendship, user, channels.get(friend_id))

    @staticmethod
    async def _request(session: AsyncSession, a: int, b: int) -> FriendRequest:
        request = await store.get_request(session, a, b)
        assert request is not None
        return request

    @staticmethod
    async def _not_pending(session: AsyncSession, *, from_id: int, to_id: int) -> AppError:
        """Why there is no pending request from -> to, as the error to raise."""
        request = await store.get_request(session, from_id, to_id)
        if request is None or request.status == RequestStatus.NONE.value or request.from_user_id != from_id:
            return AppError(ErrorCode.NOT_FOUND, "no friend request found")
        reasons = {
            RequestStatus.RECALLED.value: "the friend request was withdrawn",
            RequestStatus.CANCELLED.value: "the friend request was withdrawn",
            RequestStatus.ACCEPTED.value: "the friend request was accepted already",
            RequestStatus.REJECTED.value: "the friend request was rejected already",
        }
        status = "recalled" if request.status == RequestStatus.CANCELLED.value else request.status
        return AppError(
            ErrorCode.CONFLICT, reasons.get(request.status, "the friend request is not pending"), reason=status
        )
