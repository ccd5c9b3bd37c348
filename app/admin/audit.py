"""The admin audit log: every privileged call (allowed or refused), append-only.

Recorded by the registry (`Operation.invoke`) for every admin-audience operation, after
the call, in a transaction of its own: who (admin user, the service key, or an anonymous
caller), what (route and arguments, secrets masked), the target, the result code, when
and from which IP.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
from dataclasses import dataclass
from typing import Any

from app import paging
from app.admin import store
from app.admin.tables import AdminAudit
from app.contacts.views import Page
from app.db import Database
from app.db.types import now_ms
from app.errors import bad_input
from app.metrics import Metrics

log = logging.getLogger(__name__)

SECRET_KEY_RE = re.compile(r"password|secret|token|key", re.IGNORECASE)
MASK = "***"
MAX_STRING = 256
TARGET_FIELDS = ("user_id", "group_id", "message_id", "channel_id", "friend_id", "username")


def plain(value: Any, depth: int = 0) -> Any:
    """An input value as JSON-able data, secrets masked, long strings cut."""
    if depth > 6:
        return "..."
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "..."
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value[:50]]
    if isinstance(value, dict):
        return {str(k): MASK if SECRET_KEY_RE.search(str(k)) else plain(v, depth + 1) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name, None)
            if item is None or repr(item) == "UNSET":
                continue
            out[f.name] = MASK if SECRET_KEY_RE.search(f.name) else plain(item, depth + 1)
        return out
    return type(value).__name__


def target_of(args: dict[str, Any]) -> str | None:
    """`user:42`: what the call acted on, for filtering."""
    for name in TARGET_FIELDS:
        value = args.get(name)
        if value is not None:
            return f"{name.removesuffix('_id')}:{value}"[:64]
    return None


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # user | service_key | anonymous
    user_id: int | None


class AuditLog:
    def __init__(self, *, db: Database, metrics: Metrics) -> None:
        self.db = db
        self.metrics = metrics

    async def record(
        self,
        *,
        actor: Actor,
        route: str,
        transport: str,
        input: Any,
        result: str,
        ip: str | None,
    ) -> None:
        self.metrics.admin_actions.labels(route, result).inc()
        args = plain(input) if input is not None else {}
        if not isinstance(args, dict):
            args = {"input": args}
        entry = AdminAudit(
            at=now_ms(),
            actor_kind=actor.kind,
            actor_user_id=actor.user_id,
            route=route[:128],
            transport=transport[:16],
            args=args,
            target=target_of(args),
            result=result[:32],
            ip=(ip or None) and ip[:64],
        )
        try:
            async with self.db.transaction() as tx:
                await store.insert_audit(tx.session, entry)
        except Exception:  # the action is done: a lost audit row is logged loudly, not turned into a failure
            log.exception("could not store the audit entry of %s by %s", route, actor)

    async def list(
        self,
        *,
        actor_user_id: int | None,
        route: str | None,
        target: str | None,
        since_ms: int | None,
        until_ms: int | None,
        cursor: str | None,
        limit: int,
    ) -> Page[AdminAudit]:
        paging.check_limit(limit)
        for name, value in (("route", route), ("target", target)):
            if value is not None and len(value) > 128:
                raise bad_input(f"{name} is too long", field=name)
        after = paging.decode_ints(cursor, 1)
        async with self.db.read() as session:
            rows = list(
                await store.audit_page(
                    session,
                    actor_user_id=actor_user_id,
                    route=route,
                    target=target,
                    since_ms=since_ms,
                    until_ms=until_ms,
                    before_id=after[0] if after else None,
                    limit=limit + 1,
                )
            )
        items = rows[:limit]
        more = len(rows) > limit
        return Page(items, paging.encode(items[-1].id or 0) if more and items else None)
