"""Who is calling, from where: the transport-neutral request context both doors build."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.errors import AppError, ErrorCode

if TYPE_CHECKING:
    from app.runtime import Services


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    session_id: int
    device_id: str
    is_admin: bool = False


@dataclass(slots=True)
class RequestContext:
    """Built per HTTP request, per WebSocket connection, per native connection."""

    services: Services
    transport: str  # "http" | "ws" | "tcp" | "quic" | "gate"
    token: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    service_key: str | None = None
    # Set by the WebSocket protocols from the connection_init payload.
    connection_params: dict[str, object] | None = None
    _principal: Principal | None = field(default=None, repr=False)

    async def authenticate(self) -> Principal:
        """Resolve the bearer token to a live session. Checked on every call, so a revoked
        or kicked device is refused on its very next request."""
        if self.token is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "authentication required")
        self._principal = await self.services.devices.authenticate(self.token)
        return self._principal

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "authentication required")
        return self._principal

    @property
    def maybe_principal(self) -> Principal | None:
        return self._principal
