"""One mapping from errors to `extensions.code`, for every GraphQL error a client can see."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

from graphql import GraphQLError

from app.errors import AppError, ErrorCode


class Phase(Enum):
    """Where an error arose; decides its code when nothing more specific does."""

    PARSE = "parse"
    VALIDATION = "validation"
    EXECUTION = "execution"


# strawberry's token limiter and graphql-core's parser and executor report plain
# errors; their messages (from the pinned library versions; the tests in
# tests/integration/test_graphql_limits.py fail when one changes) are all there is to
# recognise them by.
_LIMIT_MESSAGES = (
    re.compile(r"Document contains more than \d+ tokens"),  # MaxTokensLimiter, raised by the parser
    re.compile(r"Document is nested too deeply"),  # parser, before the interpreter's stack runs out
    re.compile(r"Selections are nested too deeply"),  # executor, likewise
    re.compile(r"^Maximum introspection depth exceeded"),  # graphql-core's MaxIntrospectionDepthRule
)
NESTED_TOO_DEEPLY = "the document is nested too deeply"


def to_graphql_error(exc: AppError) -> GraphQLError:
    return GraphQLError(exc.message, extensions={"code": exc.code.value, **exc.details}, original_error=exc)


def classify(error: GraphQLError, phase: Phase = Phase.EXECUTION) -> str:
    original = error.original_error
    if isinstance(original, AppError):
        return original.code.value
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return str(error.extensions["code"])
    if isinstance(original, RecursionError) or any(p.search(error.message) for p in _LIMIT_MESSAGES):
        return ErrorCode.QUERY_TOO_COMPLEX.value
    if phase is Phase.PARSE or error.message.startswith("Syntax Error"):
        return ErrorCode.GRAPHQL_PARSE_FAILED.value
    if phase is Phase.VALIDATION:
        return ErrorCode.GRAPHQL_VALIDATION_FAILED.value
    if error.path is None:
        # Raised by the executor before any field ran: coercing the variables failed.
        return ErrorCode.BAD_USER_INPUT.value
    return ErrorCode.INTERNAL.value


def annotate(error: GraphQLError, phase: Phase = Phase.EXECUTION) -> GraphQLError:
    """Give an error its code; replace the message of unexpected failures (never shown).

    Idempotent: an error that has its code already is left alone."""
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return error
    code = classify(error, phase)
    original = error.original_error
    if isinstance(original, RecursionError):
        # Its text is about the interpreter's stack; say what the client did instead.
        error.message = NESTED_TOO_DEEPLY
    elif code == ErrorCode.INTERNAL.value and not isinstance(original, AppError | GraphQLError | None):
        # An exception's text may hold anything (SQL, paths, secrets). The traceback is
        # logged by Schema.process_errors (schema/build.py), which sees every such error.
        error.message = "internal server error"
    extensions = dict(error.extensions or {})
    extensions["code"] = code
    error.extensions = extensions
    return error


# graphql-core's " Did you mean 'adminUserList'?" (fields, arguments, types, enum values).
SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def annotate_all(errors: Iterable[GraphQLError] | None, phase: Phase, hide_suggestions: bool = False) -> None:
    """Annotate errors as each phase ends, so the phase can decide the code (a message such
    as "Variable '$x' is never used" is a validation error, while "Variable '$x' got invalid
    value" is bad input): parse, then validation, then whatever execution left (called by
    schema/guards.py). With `hide_suggestions` (introspection off), errors do not suggest
    names either."""
    for error in errors or ():
        annotate(error, phase)
        if hide_suggestions and "Did you mean" in error.message:
            error.message = SUGGESTION.sub("", error.message)
