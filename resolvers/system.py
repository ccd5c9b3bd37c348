"""system/*"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from app.context import RequestContext
from app.ops import Auth, query
from schema.system import SystemHealthPayload

try:
    VERSION = version("privchat-server")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0.0.0+source"


async def system_health(ctx: RequestContext) -> SystemHealthPayload:
    """Liveness of the service and its database; needs no authentication."""
    database = await ctx.services.db.ping()
    return SystemHealthPayload(
        status="ok" if database else "degraded",
        version=VERSION,
        server_time=datetime.now(UTC),
        database=database,
    )


OPERATIONS = [
    query("system/health", system_health, auth=Auth.NONE),
]
