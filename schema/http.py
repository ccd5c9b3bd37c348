"""GraphQL over HTTP at /graphql: GET and POST, application/graphql-response+json and
application/json, status codes as the GraphQL-over-HTTP spec asks.

strawberry's own view speaks only application/json, so HTTP requests are served here and
strawberry's ASGI app handles WebSockets only (see schema/transport.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from app import text
from app.context import RequestContext
from app.errors import ErrorCode
from app.metrics import Metrics
from schema.errors import annotate
from schema.http_request import (
    ALLOWED_METHODS,
    GraphQLParams,
    MediaType,
    RequestError,
    accepts_html,
    check_json_content_type,
    is_multipart,
    negotiate,
    params_from_body,
    params_from_multipart,
    params_from_query_string,
    protocol_error,
)

log = logging.getLogger(__name__)

ContextFactory = Callable[[Request], Awaitable[RequestContext]]
OPERATIONS_BY_METHOD: dict[str, frozenset[OperationType]] = {
    # GET must not change anything: caches and prefetchers replay GETs.
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


class GraphQLHTTP:
    """The ASGI app for HTTP requests to the GraphQL endpoint."""

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        context: ContextFactory,
        metrics: Metrics,
        max_body_bytes: int,
        graphiql_page: Callable[[], str] | None,
        max_upload_bytes: int = 0,
    ) -> None:
        self.schema = schema
        self.context = context
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # GraphQL multipart requests (file uploads): the largest body; 0 turns them off.
        self.max_upload_bytes = max_upload_bytes
        self.graphiql_page = graphiql_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except ClientDisconnect:
            return  # gone while sending its body: nobody to answer
        except Exception:
            log.exception("GraphQL HTTP request failed")
            response = error_response(500, ErrorCode.INTERNAL, "internal server error", MediaType.JSON)
        self.metrics.http_requests.labels(str(response.status_code)).inc()
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        method = request.method
        accept = request.headers.get("accept")
        if method == "OPTIONS":
            return Response(status_code=204, headers={"allow": ALLOWED_METHODS})
        if method not in OPERATIONS_BY_METHOD:
            return error_response(
                405, ErrorCode.PROTOCOL_ERROR, f"use {ALLOWED_METHODS}", MediaType.JSON, allow=ALLOWED_METHODS
            )
        if method == "GET" and "query" not in request.query_params and accepts_html(accept):
            if self.graphiql_page is not None:
                return HTMLResponse(self.graphiql_page())
        media_type = negotiate(accept)
        if media_type is None:
            message = f"no acceptable response type; accept {MediaType.GRAPHQL_RESPONSE_JSON} or {MediaType.JSON}"
            return error_response(406, ErrorCode.PROTOCOL_ERROR, message, MediaType.JSON)
        try:
            if request.method == "POST" and is_multipart(request.headers.get("content-type")):
                return await self.execute_multipart(request, media_type)
            params = await self.read_params(request)
            return await self.execute(request, params, media_type)
        except RequestError as exc:
            return error_response(exc.status, exc.code, exc.message, media_type, **exc.headers)

    async def read_params(self, request: Request) -> GraphQLParams:
        if request.method == "GET":
            return params_from_query_string(request.query_params)
        check_json_content_type(request.headers.get("content-type"))
        return params_from_body(await self.read_body(request))

    async def execute_multipart(self, request: Request, media_type: MediaType) -> Response:
        """The GraphQL multipart request spec: `operations` (JSON), `map` (JSON: file field ->
        variable paths), then the files, which become the `Upload` values. The uploaded
        parts are spooled to disk past 1 MiB and removed when the request ends."""
        if not self.max_upload_bytes:
            raise protocol_error("file uploads are not accepted here", 415)
        limit = self.max_upload_bytes + self.max_body_bytes
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            raise protocol_error("a multipart request needs a Content-Length header", 411)
        if int(declared) > limit:
            raise RequestError(
                413, ErrorCode.PAYLOAD_TOO_LARGE, f"the request body exceeds the limit of {limit} bytes"
            )
        try:
            form_context = request.form(max_files=16, max_fields=16, max_part_size=self.max_body_bytes)
            async with form_context as form:
                params = params_from_multipart(form)
                return await self.execute(request, params, media_type)
        except (MultiPartException, HTTPException) as exc:
            detail = exc.detail if isinstance(exc, HTTPException) else exc.message
            raise protocol_error(f"the multipart body is malformed: {detail}") from None

    async def read_body(self, request: Request) -> bytes:
        limit = self.max_body_bytes
        too_large = RequestError(
            413, ErrorCode.PAYLOAD_TOO_LARGE, f"the request body exceeds the limit of {limit} bytes"
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large  # refuse before reading a byte of it
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    async def execute(self, request: Request, params: GraphQLParams, media_type: MediaType) -> Response:
        ctx = await self.context(request)
        try:
            result = await self.schema.execute(
                params.query,
                variable_values=params.variables,
                context_value=ctx,
                operation_name=params.operation_name,
                allowed_operation_types=OPERATIONS_BY_METHOD[request.method],
                operation_extensions=params.extensions,
            )
        except MissingQueryError:
            raise protocol_error("the `query` parameter is missing") from None
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.MUTATION:
                raise protocol_error("mutations need POST", 405, allow="POST") from None
            raise protocol_error("subscriptions are served over WebSocket at this endpoint") from None
        except CannotGetOperationTypeError as exc:
            # A request error in GraphQL terms (the document names no runnable operation).
            if exc.operation_name is None:
                message = "the document holds no operation"
            else:
                message = f"the document has no operation named {exc.operation_name!r}"
            error = GraphQLError(message, extensions={"code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value})
            result = PreExecutionError(data=None, errors=[error])
        return result_response(result, media_type, self.metrics)


def _is_request_error(result: ExecutionResult) -> bool:
    """Whether execution never started (parse, validation, variables): the response then
    has no `data` entry. Field errors always carry a path; request errors never do."""
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or ())


def result_response(result: ExecutionResult, media_type: MediaType, metrics: Metrics | None = None) -> Response:
    errors: Sequence[GraphQLError] = [annotate(e) for e in result.errors or ()]
    body: dict[str, Any] = {}
    request_error = _is_request_error(result)
    if not request_error:
        body["data"] = result.data
    if errors:
        body["errors"] = [e.formatted for e in errors]
    if result.extensions:
        body["extensions"] = result.extensions
    # application/json keeps the legacy contract: a well-formed request gets 200 whatever
    # GraphQL made of it. application/graphql-response+json tells request errors by status.
    status = 400 if request_error and media_type is MediaType.GRAPHQL_RESPONSE_JSON else 200
    try:
        return json_response(body, status, media_type)
    except UnicodeEncodeError:
        return json_response(repaired_body(body, metrics), status, media_type)


def repaired_body(body: dict[str, Any], metrics: Metrics | None) -> dict[str, Any]:
    """A result holding text UTF-8 cannot carry (a lone surrogate stored before input was
    checked): served with U+FFFD in its place, each place named by an error with its path,
    so one bad item never fails the whole page."""
    repaired, paths = text.repair(body)
    log.error("GraphQL result held text that cannot be encoded, at %s; sent repaired", paths[:5])
    if metrics is not None:
        metrics.output_repaired.labels("graphql").inc()
    errors = list(repaired.get("errors") or [])
    for place in paths:
        if not place.startswith("data."):
            continue
        path: list[str | int] = []
        for part in place.removeprefix("data.").replace("[", ".[").split("."):
            path.append(int(part[1:-1]) if part.startswith("[") else part)
        errors.append(
            {
                "message": "this text could not be encoded; unencodable characters were replaced by U+FFFD",
                "path": path,
                "extensions": {"code": ErrorCode.INTERNAL.value},
            }
        )
    repaired["errors"] = errors
    return repaired


def error_response(status: int, code: ErrorCode, message: str, media_type: MediaType, **headers: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code.value}}]}
    return json_response(body, status, media_type, **headers)


def json_response(body: dict[str, Any], status: int, media_type: MediaType, **headers: str) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"vary": "Accept", **headers}
    return Response(content, status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers)
