"""Application errors: values with stable codes shared by GraphQL and the native gateway."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    SESSION_REVOKED = "SESSION_REVOKED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    UNKNOWN_ROUTE = "UNKNOWN_ROUTE"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


# HTTP status a REST-ish surface (files, admin) uses for each code.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.SESSION_REVOKED: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.GRAPHQL_PARSE_FAILED: 400,
    ErrorCode.GRAPHQL_VALIDATION_FAILED: 400,
    ErrorCode.QUERY_TOO_COMPLEX: 400,
    ErrorCode.PROTOCOL_ERROR: 400,
    ErrorCode.UNKNOWN_ROUTE: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class AppError(Exception):
    """An expected failure with a stable code. The message is safe to show to users."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"AppError({self.code.value}, {self.message!r})"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


def bad_input(message: str, **details: Any) -> AppError:
    return AppError(ErrorCode.BAD_USER_INPUT, message, **details)


def not_found(what: str) -> AppError:
    return AppError(ErrorCode.NOT_FOUND, f"{what} not found")


def forbidden(message: str = "not allowed") -> AppError:
    return AppError(ErrorCode.FORBIDDEN, message)
