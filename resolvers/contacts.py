"""contact/friend/*, contact/blacklist/*, account/user/share_card"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.common import Ok, parse_id
from schema.contacts import (
    AccountUserShareCardInput,
    AccountUserShareCardPayload,
    BlacklistEntry,
    ContactBlacklistAddInput,
    ContactBlacklistAddPayload,
    ContactBlacklistCheckInput,
    ContactBlacklistCheckPayload,
    ContactBlacklistListInput,
    ContactBlacklistListPayload,
    ContactBlacklistRemoveInput,
    ContactFriendAcceptInput,
    ContactFriendAcceptPayload,
    ContactFriendApplyInput,
    ContactFriendApplyPayload,
    ContactFriendCheckInput,
    ContactFriendCheckPayload,
    ContactFriendListInput,
    ContactFriendListPayload,
    ContactFriendPendingInput,
    ContactFriendPendingPayload,
    ContactFriendRecallInput,
    ContactFriendRecallPayload,
    ContactFriendRejectInput,
    ContactFriendRejectPayload,
    ContactFriendRemoveInput,
    ContactFriendSetAliasInput,
    ContactFriendSetAliasPayload,
    Friend,
    FriendRequest,
    FriendRequestDirection,
    SharedCard,
)


async def contact_friend_apply(ctx: RequestContext, input: ContactFriendApplyInput) -> ContactFriendApplyPayload:
    """Ask a user to be friends. Crossing requests, or a user who accepts without approval,
    make you friends at once (outcome FRIENDS, with the direct channel)."""
    result = await ctx.services.contacts.apply(
        ctx.principal,
        user_id=parse_id(input.user_id, "userId"),
        message=input.message,
        source=input.source.value,
        qr_token=input.qr_token,
        search_proof=input.search_proof,
    )
    return ContactFriendApplyPayload.from_result(result)


async def contact_friend_accept(ctx: RequestContext, input: ContactFriendAcceptInput) -> ContactFriendAcceptPayload:
    """Accept the pending request from `userId`: you become friends, with a direct channel."""
    view = await ctx.services.contacts.accept(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    friend = Friend.from_view(view)
    assert friend.channel_id is not None
    return ContactFriendAcceptPayload(friend=friend, channel_id=friend.channel_id)


async def contact_friend_reject(ctx: RequestContext, input: ContactFriendRejectInput) -> ContactFriendRejectPayload:
    """Turn down the pending request from `userId`."""
    view = await ctx.services.contacts.reject(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    return ContactFriendRejectPayload(request=FriendRequest.from_view(view))


async def contact_friend_recall(ctx: RequestContext, input: ContactFriendRecallInput) -> ContactFriendRecallPayload:
    """Withdraw your pending request to `userId`."""
    view = await ctx.services.contacts.recall(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    return ContactFriendRecallPayload(request=FriendRequest.from_view(view))


async def contact_friend_remove(ctx: RequestContext, input: ContactFriendRemoveInput) -> Ok:
    """End a friendship (both sides are told; the direct channel and its history stay)."""
    await ctx.services.contacts.remove(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    return Ok()


async def contact_friend_list(ctx: RequestContext, input: ContactFriendListInput) -> ContactFriendListPayload:
    """Your friends, with your aliases and the direct channels, a page at a time."""
    page = await ctx.services.contacts.list_friends(ctx.principal, cursor=input.cursor, limit=input.limit)
    return ContactFriendListPayload(friends=[Friend.from_view(v) for v in page.items], next_cursor=page.next_cursor)


async def contact_friend_pending(ctx: RequestContext, input: ContactFriendPendingInput) -> ContactFriendPendingPayload:
    """Pending friend requests to you (INCOMING) or from you (OUTGOING), newest first."""
    page = await ctx.services.contacts.pending(
        ctx.principal,
        incoming=input.direction is FriendRequestDirection.INCOMING,
        cursor=input.cursor,
        limit=input.limit,
    )
    return ContactFriendPendingPayload(
        requests=[FriendRequest.from_view(v) for v in page.items], next_cursor=page.next_cursor
    )


async def contact_friend_check(ctx: RequestContext, input: ContactFriendCheckInput) -> ContactFriendCheckPayload:
    """Where you stand with a user: friends, pending requests, your block."""
    relation = await ctx.services.contacts.relation(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    return ContactFriendCheckPayload.from_relation(relation)


async def contact_friend_set_alias(
    ctx: RequestContext, input: ContactFriendSetAliasInput
) -> ContactFriendSetAliasPayload:
    """Give a friend a private name (null or empty clears it)."""
    view = await ctx.services.contacts.set_alias(
        ctx.principal, user_id=parse_id(input.user_id, "userId"), alias=input.alias
    )
    return ContactFriendSetAliasPayload(friend=Friend.from_view(view))


async def contact_blacklist_add(ctx: RequestContext, input: ContactBlacklistAddInput) -> ContactBlacklistAddPayload:
    """Block a user: they cannot message you, send you requests, find you or see your
    presence, and are not told. A friendship stays but is inert while blocked."""
    view = await ctx.services.blacklist.block(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    return ContactBlacklistAddPayload(entry=BlacklistEntry.from_view(view))


async def contact_blacklist_remove(ctx: RequestContext, input: ContactBlacklistRemoveInput) -> Ok:
    """Unblock a user."""
    await ctx.services.blacklist.unblock(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    return Ok()


async def contact_blacklist_list(ctx: RequestContext, input: ContactBlacklistListInput) -> ContactBlacklistListPayload:
    """Your blacklist, most recently blocked first."""
    page = await ctx.services.blacklist.list_blocked(ctx.principal, cursor=input.cursor, limit=input.limit)
    return ContactBlacklistListPayload(
        entries=[BlacklistEntry.from_view(v) for v in page.items], next_cursor=page.next_cursor
    )


async def contact_blacklist_check(
    ctx: RequestContext, input: ContactBlacklistCheckInput
) -> ContactBlacklistCheckPayload:
    """Whether you blocked a user."""
    blocked = await ctx.services.blacklist.is_blocked(ctx.principal, user_id=parse_id(input.user_id, "userId"))
    return ContactBlacklistCheckPayload(blocked=blocked)


async def account_user_share_card(ctx: RequestContext, input: AccountUserShareCardInput) -> AccountUserShareCardPayload:
    """Send a user's card (yours, a friend's, or someone you can find) to someone you may
    message; they may then apply to that user with source CARD."""
    view = await ctx.services.cards.share_card(
        ctx.principal, user_id=parse_id(input.user_id, "userId"), to_user_id=parse_id(input.to_user_id, "toUserId")
    )
    return AccountUserShareCardPayload(card=SharedCard.from_view(view))


OPERATIONS = [
    mutation("contact/friend/apply", contact_friend_apply, rate_limit="30/minute", audience=Audience.USER),
    mutation("contact/friend/accept", contact_friend_accept, audience=Audience.USER),
    mutation("contact/friend/reject", contact_friend_reject, audience=Audience.USER),
    mutation("contact/friend/recall", contact_friend_recall, audience=Audience.USER),
    mutation("contact/friend/remove", contact_friend_remove, audience=Audience.USER),
    query("contact/friend/list", contact_friend_list, audience=Audience.SELF),
    query("contact/friend/pending", contact_friend_pending, audience=Audience.SELF),
    query("contact/friend/check", contact_friend_check, audience=Audience.USER),
    mutation("contact/friend/set_alias", contact_friend_set_alias, audience=Audience.USER),
    mutation("contact/blacklist/add", contact_blacklist_add, audience=Audience.USER),
    mutation("contact/blacklist/remove", contact_blacklist_remove, audience=Audience.USER),
    query("contact/blacklist/list", contact_blacklist_list, audience=Audience.SELF),
    query("contact/blacklist/check", contact_blacklist_check, audience=Audience.USER),
    mutation("account/user/share_card", account_user_share_card, rate_limit="30/minute", audience=Audience.USER),
]
