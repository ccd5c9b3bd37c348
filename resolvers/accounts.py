"""account/*"""

from __future__ import annotations

from app.accounts.service import ProfileChanges
from app.context import RequestContext
from app.ops import Audience, Auth, mutation, query
from schema.accounts import (
    AccountAuthLoginHistoryInput,
    AccountAuthLoginHistoryPayload,
    AccountAuthLoginInput,
    AccountAuthLoginPayload,
    AccountAuthRefreshInput,
    AccountAuthRefreshPayload,
    AccountProfileGetPayload,
    AccountProfileUpdateInput,
    AccountProfileUpdatePayload,
    AccountUserDetailInput,
    AccountUserDetailPayload,
    AccountUserRegisterInput,
    AccountUserRegisterPayload,
    Device,
    LoginAttempt,
    Profile,
    User,
)
from schema.common import Ok, parse_id


async def account_user_register(ctx: RequestContext, input: AccountUserRegisterInput) -> AccountUserRegisterPayload:
    """Create an account."""
    user = await ctx.services.accounts.register(
        username=input.username,
        password=input.password,
        display_name=input.display_name,
        email=input.email,
        phone=input.phone,
        ip=ctx.ip,
    )
    return AccountUserRegisterPayload(user=User.from_record(user))


async def account_auth_login(ctx: RequestContext, input: AccountAuthLoginInput) -> AccountAuthLoginPayload:
    """Log a device in: a short-lived access token and a rotating refresh token."""
    result = await ctx.services.accounts.login(
        username=input.username,
        password=input.password,
        device_id=input.device_id,
        device_name=input.device_name,
        platform=input.platform,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )
    tokens = result.tokens
    return AccountAuthLoginPayload(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=User.from_record(result.user),
        device=Device.from_record(tokens.session, current_session_id=tokens.session.id),
    )


async def account_auth_refresh(ctx: RequestContext, input: AccountAuthRefreshInput) -> AccountAuthRefreshPayload:
    """Exchange a refresh token for new tokens; the old refresh token stops working."""
    tokens = await ctx.services.devices.refresh(input.refresh_token)
    return AccountAuthRefreshPayload(
        access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in
    )


async def account_auth_logout(ctx: RequestContext) -> Ok:
    """End the calling device's session."""
    await ctx.services.devices.logout(ctx.principal)
    return Ok()


async def account_auth_login_history(
    ctx: RequestContext, input: AccountAuthLoginHistoryInput
) -> AccountAuthLoginHistoryPayload:
    """Recent login attempts on the caller's account (time, device, IP, outcome)."""
    rows = await ctx.services.accounts.login_history(ctx.principal, limit=input.limit)
    return AccountAuthLoginHistoryPayload(attempts=[LoginAttempt.from_record(r) for r in rows])


async def account_user_detail(ctx: RequestContext, input: AccountUserDetailInput) -> AccountUserDetailPayload:
    """Another user's public card."""
    user = await ctx.services.accounts.get(parse_id(input.user_id, "userId"))
    return AccountUserDetailPayload(user=User.from_record(user))


async def account_profile_get(ctx: RequestContext) -> AccountProfileGetPayload:
    """The caller's own profile."""
    user = await ctx.services.accounts.get(ctx.principal.user_id)
    return AccountProfileGetPayload(profile=Profile.from_record(user))


async def account_profile_update(ctx: RequestContext, input: AccountProfileUpdateInput) -> AccountProfileUpdatePayload:
    """Change profile fields; omitted fields stay as they are, an empty string clears one.
    Friends, direct-chat peers, members of shared groups and your other devices get a
    UserProfileChangedEvent."""
    user = await ctx.services.accounts.update_profile(
        ctx.principal,
        ProfileChanges(
            display_name=input.display_name,
            avatar_file_id=input.avatar_file_id,
            bio=input.bio,
            email=input.email,
            phone=input.phone,
        ),
    )
    return AccountProfileUpdatePayload(profile=Profile.from_record(user))


OPERATIONS = [
    mutation("account/user/register", account_user_register, auth=Auth.NONE),
    mutation("account/auth/login", account_auth_login, auth=Auth.NONE),
    mutation("account/auth/refresh", account_auth_refresh, auth=Auth.NONE),
    mutation("account/auth/logout", account_auth_logout, audience=Audience.SELF),
    query("account/auth/login_history", account_auth_login_history, audience=Audience.SELF),
    query("account/user/detail", account_user_detail, audience=Audience.USER),
    query("account/profile/get", account_profile_get, audience=Audience.SELF),
    mutation("account/profile/update", account_profile_update, audience=Audience.SELF),
]
