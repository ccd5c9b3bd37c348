"""Which failures mean "a dependency is down, retry": answered UNAVAILABLE, not INTERNAL.

A send while PostgreSQL is restarting must get a typed, retryable error (and never a
false acknowledgement); a bug must still be INTERNAL (and logged with its trace). This
module tells the two apart by walking the exception chain (SQLAlchemy wraps the
driver's error, asyncio wraps OS errors).
"""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc

from app.errors import AppError, ErrorCode

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "the service is temporarily unavailable, retry shortly"

_DOWN: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,
    socket.gaierror,  # a host name that does not resolve (now)
    RedisConnectionError,
    RedisTimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08: connection exceptions
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin/crash shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full
    sa_exc.TimeoutError,  # no pooled connection within pool_timeout: overloaded or down
)

# Other OS errors that mean "the network or the disk cannot serve" (not a bug such as a
# missing file, which stays INTERNAL).
_DOWN_ERRNO = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
)

# Texts of driver errors that carry no better type.
_DOWN_TEXT = ("connection is closed", "pool is closing", "database or disk is full", "disk i/o error")


def is_dependency_down(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) says a database/Redis/disk could not serve."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DOWN) or (isinstance(current, OSError) and current.errno in _DOWN_ERRNO):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (asyncpg.InterfaceError, sqlite3.OperationalError, sa_exc.DBAPIError)):
            text = str(current).lower()
            if any(t in text for t in _DOWN_TEXT):
                return True
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and id(orig) not in seen:
            current = orig
            continue
        current = current.__cause__ or current.__context__
    return False


def unavailable() -> AppError:
    return AppError(ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)


def as_app_error(exc: BaseException, *, what: str) -> AppError:
    """The error a client sees for an unexpected exception (logged here, once)."""
    if is_dependency_down(exc):
        log.warning("%s: dependency unavailable: %s: %s", what, type(exc).__name__, exc)
        return unavailable()
    log.error("%s failed", what, exc_info=exc)
    return AppError(ErrorCode.INTERNAL, "internal server error")
