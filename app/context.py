"""Who is calling, from where: the transport-neutral request context both doors build."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.errors import AppError, ErrorCode
from app.principal import Principal

if TYPE_CHECKING:
    from app.runtime import Services


@dataclass(slots=True)
class RequestContext:
    """Built per HTTP request, per WebSocket connection, per native connection."""

    services: Services
    transport: str  # "http" | "ws" | "tcp" | "quic" | "gate"
    token: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    host: str | None = None  # the host name the client called (file URLs point back to it)
    service_key: str | None = None
    # Set by the WebSocket protocols from the connection_init payload.
    connection_params: dict[str, object] | None = None
    _principal: Principal | None = field(default=None, repr=False)
    # Set when a bulky input made the caller authenticate before it was read (see
    # `Operation.precheck`); the admission of that same call uses it instead of asking again.
    _early: Principal | None = field(default=None, repr=False)

    async def authenticate(self) -> Principal:
        """Resolve the bearer token to a live session. Checked on every call, so a revoked
        or kicked device is refused on its very next request."""
        if self.token is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "authentication required")
        self._principal = await self.services.devices.authenticate(self.token)
        return self._principal

    async def authenticate_early(self) -> None:
        self._early = await self.authenticate()

    async def admitted_principal(self) -> Principal:
        """The principal for this call's admission: the early one if there was one (once)."""
        early, self._early = self._early, None
        return early if early is not None else await self.authenticate()

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "authentication required")
        return self._principal

    @property
    def maybe_principal(self) -> Principal | None:
        return self._principal
