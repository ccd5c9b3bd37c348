"""RPC and CONNECT against the shared operation registry.

A route is looked up in the same registry GraphQL is built from and called through
`Api.call`, which coerces the args against the route's GraphQL input type and runs
`Operation.invoke` (authentication, rate limits, metrics, error mapping). Nothing here
knows any route: a new operation is reachable through the gateway with no code here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from time import time
from typing import Any

from app.context import RequestContext
from app.errors import AppError, ErrorCode
from app.principal import Principal
from app.runtime import Services
from gateway_native.session import RpcError
from schema.build import Api

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Admission:
    """What a successful CONNECT tells the client (CONNECT_ACK)."""

    principal: Principal
    update_seq: int
    server_time_ms: int


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a connection's RPCs run as: the RequestContext fields of that connection."""

    transport: str  # "tcp" | "quic" | "gate"
    ip: str | None
    token: str | None = None  # from the last CONNECT; None: anonymous (only auth-free routes work)
    platform: str | None = None  # from CONNECT

    @property
    def user_agent(self) -> str:
        """What login history and device records show for this door."""
        platform = f"; {self.platform}" if self.platform else ""
        return f"privchat-native/1 ({self.transport}{platform})"


class Dispatcher:
    def __init__(self, api: Api, services: Services) -> None:
        self.api = api
        self.services = services

    async def admit(self, token: str, device_id: str) -> Admission:
        """Check a CONNECT: the same token check as every authenticated operation."""
        principal = await self.services.devices.authenticate(token)
        if principal.device_id != device_id:
            raise AppError(ErrorCode.UNAUTHENTICATED, "the token was issued to another deviceId")
        seq = await self.services.updates.head(principal.user_id)
        return Admission(principal=principal, update_seq=seq, server_time_ms=int(time() * 1000))

    async def call(self, caller: Caller, route: str, args: Any) -> dict[str, Any] | RpcError:
        # A fresh context per RPC: RPCs of one connection run concurrently.
        ctx = RequestContext(
            services=self.services,
            transport=caller.transport,
            token=caller.token,
            ip=caller.ip,
            user_agent=caller.user_agent,
        )
        try:
            return await self.api.call(route, ctx, args)
        except AppError as exc:
            return RpcError(exc.code.value, exc.message, exc.details or None)
        except Exception:
            # Operation.invoke maps failures inside resolvers; this is for what lies around it.
            log.exception("native RPC %s failed", route)
            return RpcError(ErrorCode.INTERNAL.value, "internal server error")
