"""account/search/*, user/qrcode/*"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.search import (
    AccountSearchByQrcodeInput,
    AccountSearchByQrcodePayload,
    AccountSearchQueryInput,
    AccountSearchQueryPayload,
    SearchResult,
    UserQrCode,
    UserQrcodeGetPayload,
    UserQrcodeRefreshInput,
    UserQrcodeRefreshPayload,
    UserQrcodeResolveInput,
    UserQrcodeResolvePayload,
)


async def account_search_query(ctx: RequestContext, input: AccountSearchQueryInput) -> AccountSearchQueryPayload:
    """Find users by username or display-name prefix, or by exact phone or email. Users
    whose privacy settings hide them from you are never returned."""
    page = await ctx.services.search.query(ctx.principal, text=input.query, cursor=input.cursor, limit=input.limit)
    return AccountSearchQueryPayload(
        results=[SearchResult.from_hit(h) for h in page.items], next_cursor=page.next_cursor
    )


async def account_search_by_qrcode(
    ctx: RequestContext, input: AccountSearchByQrcodeInput
) -> AccountSearchByQrcodePayload:
    """The user behind a scanned QR code (then apply with source QRCODE)."""
    resolved = await ctx.services.qrcodes.resolve(ctx.principal, input.qrcode)
    return AccountSearchByQrcodePayload.from_resolved(resolved)


async def user_qrcode_get(ctx: RequestContext) -> UserQrcodeGetPayload:
    """Your QR code (made on first use)."""
    return UserQrcodeGetPayload(qrcode=UserQrCode.from_code(await ctx.services.qrcodes.get(ctx.principal)))


async def user_qrcode_refresh(ctx: RequestContext, input: UserQrcodeRefreshInput) -> UserQrcodeRefreshPayload:
    """A new QR code; the old one stops working at once."""
    code = await ctx.services.qrcodes.refresh(ctx.principal, ttl_seconds=input.expires_in_seconds)
    return UserQrcodeRefreshPayload(qrcode=UserQrCode.from_code(code))


async def user_qrcode_resolve(ctx: RequestContext, input: UserQrcodeResolveInput) -> UserQrcodeResolvePayload:
    """The user behind a scanned QR code (same as accountSearchByQrcode)."""
    resolved = await ctx.services.qrcodes.resolve(ctx.principal, input.qrcode)
    return UserQrcodeResolvePayload.from_resolved(resolved)


OPERATIONS = [
    query("account/search/query", account_search_query, rate_limit="60/minute", audience=Audience.USER),
    query("account/search/by_qrcode", account_search_by_qrcode, rate_limit="60/minute", audience=Audience.USER),
    query("user/qrcode/get", user_qrcode_get, audience=Audience.SELF),
    mutation("user/qrcode/refresh", user_qrcode_refresh, audience=Audience.SELF),
    query("user/qrcode/resolve", user_qrcode_resolve, rate_limit="60/minute", audience=Audience.USER),
]
