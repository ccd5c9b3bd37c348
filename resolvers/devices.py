"""device/*"""

from __future__ import annotations

from app.context import RequestContext
from app.ops import Audience, mutation, query
from schema.accounts import (
    Device,
    DeviceKickInput,
    DeviceKickOthersPayload,
    DeviceKickPayload,
    DeviceListPayload,
    DeviceRevokeAllPayload,
    DeviceRevokeInput,
    DeviceRevokePayload,
    DeviceUpdateNameInput,
    DeviceUpdateNamePayload,
)


async def device_list(ctx: RequestContext) -> DeviceListPayload:
    """The caller's logged-in devices, the current one marked."""
    rows = await ctx.services.devices.list_sessions(ctx.principal)
    return DeviceListPayload(devices=[Device.from_record(r, current_session_id=ctx.principal.session_id) for r in rows])


async def device_revoke(ctx: RequestContext, input: DeviceRevokeInput) -> DeviceRevokePayload:
    """Log a device out remotely: its tokens stop working."""
    return DeviceRevokePayload(revoked=await ctx.services.devices.revoke(ctx.principal, input.device_id))


async def device_revoke_all(ctx: RequestContext) -> DeviceRevokeAllPayload:
    """Log out every device, this one included."""
    count = await ctx.services.devices.revoke_all(ctx.principal, keep_current=False, reason="revoked")
    return DeviceRevokeAllPayload(revoked=count)


async def device_update_name(ctx: RequestContext, input: DeviceUpdateNameInput) -> DeviceUpdateNamePayload:
    """Rename one of the caller's devices."""
    row = await ctx.services.devices.rename(ctx.principal, input.device_id, input.device_name)
    return DeviceUpdateNamePayload(device=Device.from_record(row, current_session_id=ctx.principal.session_id))


async def device_kick(ctx: RequestContext, input: DeviceKickInput) -> DeviceKickPayload:
    """Kick a device: its session ends and its live connections are closed now."""
    return DeviceKickPayload(kicked=await ctx.services.devices.revoke(ctx.principal, input.device_id, reason="kicked"))


async def device_kick_others(ctx: RequestContext) -> DeviceKickOthersPayload:
    """Kick every device except the calling one."""
    count = await ctx.services.devices.revoke_all(ctx.principal, keep_current=True, reason="kicked")
    return DeviceKickOthersPayload(kicked=count)


OPERATIONS = [
    query("device/list", device_list, audience=Audience.SELF),
    mutation("device/revoke", device_revoke, audience=Audience.SELF),
    mutation("device/revoke_all", device_revoke_all, audience=Audience.SELF),
    mutation("device/update_name", device_update_name, audience=Audience.SELF),
    mutation("device/kick", device_kick, audience=Audience.SELF),
    mutation("device/kick_others", device_kick_others, audience=Audience.SELF),
]
