"""Which failures answer UNAVAILABLE (a dependency is down: retry) and which INTERNAL (a bug)."""

from __future__ import annotations

import errno
import sqlite3

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from sqlalchemy import exc as sa_exc

from app.errors import ErrorCode
from app.faults import as_app_error, is_dependency_down


def wrapped(error: BaseException) -> BaseException:
    """As SQLAlchemy hands a driver error up: a DBAPIError around it."""
    return sa_exc.OperationalError("INSERT ...", {}, error)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 5432)"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
        TimeoutError(),
        OSError(errno.ENOSPC, "No space left on device"),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        wrapped(sqlite3.OperationalError("database or disk is full")),
        wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed")),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 5 reached"),
    ],
)
def test_a_dependency_down_answers_unavailable_without_internals(error: BaseException) -> None:
    assert is_dependency_down(error)
    answer = as_app_error(error, what="test")
    assert answer.code is ErrorCode.UNAVAILABLE
    assert "127.0.0.1" not in answer.message and "5432" not in answer.message


def test_a_cause_deep_in_the_chain_counts() -> None:
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        except OSError as inner:
            raise RuntimeError("could not check the session") from inner
    except RuntimeError as outer:
        assert is_dependency_down(outer)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        KeyError("id"),
        FileNotFoundError(errno.ENOENT, "No such file or directory"),
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        wrapped(sqlite3.OperationalError("no such table: messages")),
        asyncpg.exceptions.UndefinedColumnError('column "x" does not exist'),
    ],
)
def test_a_bug_stays_internal(error: BaseException) -> None:
    assert not is_dependency_down(error)
    assert as_app_error(error, what="test").code is ErrorCode.INTERNAL
