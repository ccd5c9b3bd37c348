"""account/privacy/*"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.privacy import (
    AccountPrivacyGetPayload,
    AccountPrivacyUpdateInput,
    AccountPrivacyUpdatePayload,
    PrivacySettings,
)


async def account_privacy_get(ctx: RequestContext) -> AccountPrivacyGetPayload:
    """Your privacy settings."""
    settings = await ctx.services.privacy.get(ctx.principal)
    return AccountPrivacyGetPayload(settings=PrivacySettings.from_record(settings))


async def account_privacy_update(ctx: RequestContext, input: AccountPrivacyUpdateInput) -> AccountPrivacyUpdatePayload:
    """Change privacy settings; those not given stay as they are."""
    settings = await ctx.services.privacy.update(ctx.principal, input.to_domain())
    return AccountPrivacyUpdatePayload(settings=PrivacySettings.from_record(settings))


OPERATIONS = [
    query("account/privacy/get", account_privacy_get, audience=Audience.SELF),
    mutation("account/privacy/update", account_privacy_update, audience=Audience.SELF),
]
