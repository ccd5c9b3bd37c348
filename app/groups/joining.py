"""group/approval/*, group/qrcode/* and group/join/qrcode: join requests and QR codes."""

from __future__ import annotations

import secrets

from app import paging
from app.contacts.policy import CANNOT_ADD_TO_GROUP
from app.contacts.views import Page
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, forbidden, not_found
from app.groups import rules, store
from app.groups.core import GroupCore
from app.groups.permissions import Action, InviteOutcome, qr_join_outcome, require
from app.groups.tables import GroupQrCode
from app.groups.views import GroupView, JoinOutcome, JoinResult, QrCodeView, RequestView
from app.principal import Principal
from app.sync.outbox import Outbox


class GroupJoins:
    def __init__(self, core: GroupCore) -> None:
        self.core = core

    async def list_requests(
        self, principal: Principal, group_id: int, *, cursor: str | None, limit: int
    ) -> Page[RequestView]:
        """Pending join requests, oldest first (owner and admins)."""
        paging.check_limit(limit)
        after = paging.decode_ints(cursor, 2)
        async with self.core.db.read() as s:
            group = await self.core.read(s, group_id, principal.user_id)
            require(group.role, Action.HANDLE_REQUESTS)
            rows = list(
                await store.pending_requests_page(
                    s, group.id, after=(after[0], after[1]) if after else None, limit=limit + 1
                )
            )
        items = [RequestView(r, u) for r, u in rows[:limit]]
        last = items[-1].request if len(rows) > limit and items else None
        return Page(items, paging.encode(last.created_at, last.user_id) if last else None)

    async def handle_request(self, principal: Principal, group_id: int, user_id: int, *, approve: bool) -> GroupView:
        """Approve (the user joins) or reject a pending join request; the requester, and the
        member who invited them, are notified."""
        me = principal.user_id
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.HANDLE_REQUESTS)
            request = await store.get_request(s, group.id, user_id)
            if request is None or request.status != "pending":
                raise not_found("join request")
            if approve and user_id not in await store.active_ids_among(s, group.id, [user_id]):
                users = await self.core.active_users(s, [user_id])
                inviter = request.inviter_id
                if (
                    request.source == "invite"
                    and inviter is not None
                    and user_id not in await self.core.addable(s, inviter, [user_id])
                ):
                    raise forbidden(CANNOT_ADD_TO_GROUP)
                await store.delete_bans(s, group.id, [user_id])
                line = f"{users[user_id].display_name} joined the group"
                await self.core.admit(
                    tx,
                    group,
                    [user_id],
                    actor_id=me,
                    inviter_id=inviter,
                    via="approval",
                    line=line,
                    outbox=outbox,
                    at=at,
                )
            status = "approved" if approve else "rejected"
            await store.settle_requests(s, group.id, [user_id], status=status, by=me, at=at)
            payload = {
                "groupId": group.id,
                "groupName": group.channel.title,
                "userId": user_id,
                "approved": approve,
                "handledBy": me,
            }
            for notified in sorted({user_id, request.inviter_id or user_id}):
                outbox.add(notified, "group_join_request_handled", payload)
            await outbox.flush(self.core.updates, tx)
            return await self.core.view(s, group.id, me)

    # -- group/qrcode/*, group/join/qrcode ------------------------------------------------

    async def qrcode(self, principal: Principal, group_id: int) -> QrCodeView:
        """The group's current code (owner and admins); a new one once it expired or its
        maker is no longer an owner or admin of the group."""
        me = principal.user_id
        at = now_ms()
        async with self.core.db.transaction() as tx:
            s = tx.session
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.MANAGE_QRCODE)
            row = await store.get_qrcode(s, group.id)
            if row is None or not await self.core.qr_usable(s, row, at):
                ttl = row.ttl_seconds if row is not None else rules.DEFAULT_QR_TTL_SECONDS
                row = _new_qr(group.id, me, ttl, at)
                await store.put_qrcode(s, row)
        return _qr_view(row)

    async def refresh_qrcode(self, principal: Principal, group_id: int, *, ttl_seconds: int | None) -> QrCodeView:
        """A new code; the previous one stops working at once."""
        ttl = rules.check_qr_ttl(ttl_seconds)
        me = principal.user_id
        async with self.core.db.transaction() as tx:
            group = await self.core.lock(tx, group_id, me)
            require(group.role, Action.MANAGE_QRCODE)
            row = _new_qr(group.id, me, ttl, now_ms())
            await store.put_qrcode(tx.session, row)
        return _qr_view(row)

    async def join_by_qrcode(self, principal: Principal, code: str, *, message: str | None = None) -> JoinResult:
        """Join through a group's QR code: at once, or as a join request under approval.
        An unknown, replaced or expired code is NOT_FOUND (`reason: expired` for the last)."""
        token = rules.parse_qr(code)
        note = rules.check_request_message(message)
        me = principal.user_id
        at = now_ms()
        outbox = Outbox()
        async with self.core.db.transaction() as tx:
            s = tx.session
            row = await store.get_qrcode_by_token(s, token)
            if row is None:
                raise AppError(ErrorCode.NOT_FOUND, "QR code not found")
            channel = await store.lock_group(s, row.channel_id)
            current = await store.get_qrcode(s, row.channel_id)  # a refresh may have won the lock first
            if channel is None or channel.deleted_at is not None or current is None or current.token != token:
                raise AppError(ErrorCode.NOT_FOUND, "QR code not found")
            if current.expires_at <= at:
                raise AppError(ErrorCode.NOT_FOUND, "this QR code has expired", reason="expired")
            if not await self.core.qr_usable(s, current, at):
                raise AppError(ErrorCode.NOT_FOUND, "QR code not found")
            group = await self.core.load(s, channel, None)
            if await store.active_ids_among(s, group.id, [me]):
                return JoinResult(JoinOutcome.JOINED, group.id, await self.core.view(s, group.id, me))
            if await store.banned_among(s, group.id, [me]):
                raise forbidden("you cannot join this group")
            users = await self.core.active_users(s, [me])
            if qr_join_outcome(join_approval=group.settings.join_approval) is InviteOutcome.REQUEST:
                await self.core.request(
                    tx,
                    group,
                    users[me],
                    inviter_id=current.created_by,
                    source="qrcode",
                    message=note,
                    outbox=outbox,
                    at=at,
                )
                await outbox.flush(self.core.updates, tx)
                return JoinResult(JoinOutcome.PENDING, group.id, None)
            line = f"{users[me].display_name} joined the group via its QR code"
            await self.core.admit(
                tx,
                group,
                [me],
                actor_id=me,
                inviter_id=current.created_by,
                via="qrcode",
                line=line,
                outbox=outbox,
                at=at,
            )
            await outbox.flush(self.core.updates, tx)
            return JoinResult(JoinOutcome.JOINED, group.id, await self.core.view(s, group.id, me))


def _new_qr(group_id: int, maker_id: int, ttl_seconds: int, at: int) -> GroupQrCode:
    return GroupQrCode(
        channel_id=group_id,
        token=secrets.token_urlsafe(32),
        created_by=maker_id,
        created_at=at,
        expires_at=at + ttl_seconds * 1000,
        ttl_seconds=ttl_seconds,
    )


def _qr_view(row: GroupQrCode) -> QrCodeView:
    return QrCodeView(group_id=row.channel_id, token=row.token, created_at=row.created_at, expires_at=row.expires_at)
