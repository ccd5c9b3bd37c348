"""One mapping from errors to `extensions.code`, for every GraphQL error a client can see."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.errors import AppError, ErrorCode

log = logging.getLogger(__name__)


def to_graphql_error(exc: AppError) -> GraphQLError:
    return GraphQLError(exc.message, extensions={"code": exc.code.value, **exc.details}, original_error=exc)


def classify(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, AppError):
        return original.code.value
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return str(error.extensions["code"])
    if error.message.startswith("Syntax Error"):
        return ErrorCode.GRAPHQL_PARSE_FAILED.value
    if original is None:
        if error.message.startswith("Variable "):
            return ErrorCode.BAD_USER_INPUT.value
        return ErrorCode.GRAPHQL_VALIDATION_FAILED.value
    return ErrorCode.INTERNAL.value


def annotate(error: GraphQLError) -> GraphQLError:
    """Give an error its code; replace the message of unexpected failures (logged, never shown)."""
    code = classify(error)
    if code == ErrorCode.INTERNAL.value and not isinstance(error.original_error, AppError):
        log.error("unexpected GraphQL error", exc_info=error.original_error)
        error.message = "internal server error"
    extensions = dict(error.extensions or {})
    extensions["code"] = code
    error.extensions = extensions
    return error


class ErrorCodes(SchemaExtension):
    """Annotates parse, validation and execution errors after each operation."""

    def on_operation(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        for errors in (ctx.pre_execution_errors, getattr(ctx.result, "errors", None)):
            for error in errors or ():
                annotate(error)
