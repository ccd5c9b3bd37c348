"""GraphQL over HTTP, the request side: media types, content negotiation and the
`query` / `operationName` / `variables` / `extensions` parameters of GET and POST.

Pure functions (strings and bytes in, values or `RequestError` out), so every rule of
https://graphql.github.io/graphql-over-http/draft/ is testable without a server.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.errors import ErrorCode


class MediaType(StrEnum):
    GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
    JSON = "application/json"


ALLOWED_METHODS = "GET, POST"


class RequestError(Exception):
    """A request that is refused before any GraphQL runs: its HTTP status and error code."""

    def __init__(self, status: int, code: ErrorCode, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def protocol_error(message: str, status: int = 400, **headers: str) -> RequestError:
    return RequestError(status, ErrorCode.PROTOCOL_ERROR, message, headers=headers)


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    query: str
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = field(default=None)


# --- media types ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MediaRange:
    type: str
    subtype: str
    params: dict[str, str]
    q: float

    def specificity(self, media_type: str) -> int | None:
        """How exactly this range names `media_type` (2 exact, 1 `type/*`, 0 `*/*`), or None."""
        type_, _, subtype = media_type.partition("/")
        charset = self.params.get("charset")
        if charset is not None and charset.lower() not in ("utf-8", "utf8"):
            return None  # we only ever answer in UTF-8
        if self.type == "*" and self.subtype == "*":
            return 0
        if self.type != type_:
            return None
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == subtype else None


def _parse_media_range(text: str) -> _MediaRange | None:
    main, *raw_params = (part.strip() for part in text.split(";"))
    type_, slash, subtype = main.lower().partition("/")
    if not slash or not type_ or not subtype:
        return None
    params: dict[str, str] = {}
    for raw in raw_params:
        key, eq, value = raw.partition("=")
        if eq:
            params[key.strip().lower()] = value.strip().strip('"')
    try:
        q = float(params.pop("q", "1"))
    except ValueError:
        q = 0.0  # an unreadable weight makes the range useless, not the whole header
    return _MediaRange(type_.strip(), subtype.strip(), params, min(max(q, 0.0), 1.0))


def _accept_ranges(accept: str) -> list[_MediaRange]:
    return [r for r in (_parse_media_range(part) for part in accept.split(",") if part.strip()) if r is not None]


@functools.lru_cache(maxsize=256)  # clients send the same few Accept headers on every request
def negotiate(accept: str | None) -> MediaType | None:
    """The response media type for an Accept header, or None when it allows neither.

    No Accept header means application/json (the spec's legacy rule). Between equally
    weighted types the more specifically named one wins, and for a tie in that too
    (`*/*`, `application/*`) application/json, which every client understands.
    """
    if accept is None or not accept.strip():
        return MediaType.JSON
    ranges = _accept_ranges(accept)
    candidates: list[tuple[tuple[float, int, bool], MediaType]] = []
    for media_type in MediaType:
        matches = [(s, r.q) for r in ranges if (s := r.specificity(media_type)) is not None]
        if not matches:
            continue
        specificity, q = max(matches)  # the most specific range sets the weight (RFC 9110 12.5.1)
        if q <= 0:
            continue
        # On a tie, a client that names graphql-response+json gets it; wildcards get JSON.
        favoured = (media_type is MediaType.GRAPHQL_RESPONSE_JSON) == (specificity == 2)
        candidates.append(((q, specificity, favoured), media_type))
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


@functools.lru_cache(maxsize=256)
def accepts_html(accept: str | None) -> bool:
    """Whether a browser is asking (GraphiQL is served to text/html, never to */*)."""
    return any(r.type == "text" and r.subtype == "html" and r.q > 0 for r in _accept_ranges(accept or ""))


def check_json_content_type(content_type: str | None) -> None:
    """POST bodies must be application/json in UTF-8 (the only format the spec requires)."""
    if not content_type:
        raise protocol_error("a POST request needs the header Content-Type: application/json", 415)
    parsed = _parse_media_range(content_type)
    if parsed is None or (parsed.type, parsed.subtype) != ("application", "json"):
        raise protocol_error(f"unsupported Content-Type {content_type!r}; use application/json", 415)
    charset = parsed.params.get("charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise protocol_error(f"unsupported charset {charset!r}; send application/json in utf-8", 415)


# --- parameters ----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(raw: bytes | str) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity; nesting too deep for the parser is an
    error like any other (RecursionError must not escape as a 500)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None


def params_from_body(body: bytes) -> GraphQLParams:
    if not body.strip():
        raise protocol_error("the request body is empty; send a JSON object with a `query`")
    try:
        payload = load_json(body)
    except ValueError as exc:
        raise protocol_error(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise protocol_error("the request body must be a JSON object (batches are not supported)")
    return _params(payload)


def params_from_query_string(params: Mapping[str, str]) -> GraphQLParams:
    """GET: `variables` and `extensions` arrive JSON-encoded."""
    payload: dict[str, Any] = {key: params.get(key) for key in ("query", "operationName")}
    for key in ("variables", "extensions"):
        raw = params.get(key)
        if raw is None or raw == "":
            continue
        try:
            payload[key] = load_json(raw)
        except ValueError as exc:
            raise _param_error(key, f"is not valid JSON: {exc}") from None
    return _params(payload)


def _param_error(key: str, problem: str) -> RequestError:
    # Malformed variables are the caller's input problem; the rest is the envelope.
    code = ErrorCode.BAD_USER_INPUT if key == "variables" else ErrorCode.PROTOCOL_ERROR
    return RequestError(400, code, f"the `{key}` parameter {problem}")


def _params(payload: Mapping[str, Any]) -> GraphQLParams:
    query = payload.get("query")
    if query is None or query == "":
        raise protocol_error("the `query` parameter is missing; send the GraphQL document as a string")
    if not isinstance(query, str):
        raise _param_error("query", "must be a string")
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _param_error("operationName", "must be a string or null")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise _param_error("variables", "must be a JSON object or null")
    extensions = payload.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise _param_error("extensions", "must be a JSON object or null")
    return GraphQLParams(query=query, operation_name=operation_name or None, variables=variables, extensions=extensions)


# --- multipart (file uploads) -------------------------------------------------------------


def is_multipart(content_type: str | None) -> bool:
    parsed = _parse_media_range(content_type or "")
    return parsed is not None and (parsed.type, parsed.subtype) == ("multipart", "form-data")


def params_from_multipart(form: Mapping[str, Any]) -> GraphQLParams:
    """https://github.com/jaydenseric/graphql-multipart-request-spec: the files of `map`
    put into `operations` at the paths it names (`variables.input.file`)."""
    operations_raw, map_raw = form.get("operations"), form.get("map")
    if not isinstance(operations_raw, str) or not isinstance(map_raw, str):
        raise protocol_error("a multipart request needs `operations` and `map` fields before the files")
    try:
        operations, mapping = load_json(operations_raw), load_json(map_raw)
    except ValueError as exc:
        raise protocol_error(f"`operations` or `map` is not valid JSON: {exc}") from None
    if not isinstance(operations, dict):
        raise protocol_error("`operations` must be one JSON object (batches are not supported)")
    if not isinstance(mapping, dict):
        raise protocol_error("`map` must be a JSON object of file field -> paths")
    for field_name, paths in mapping.items():
        upload = form.get(field_name)
        if upload is None or isinstance(upload, str):
            raise protocol_error(f"`map` names the file {field_name!r}, which the request does not hold")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise protocol_error(f"`map` of {field_name!r} must be a list of paths")
        for path in paths:
            _put_at(operations, path, upload)
    return _params(operations)


def _put_at(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] != "variables" or len(parts) < 2:
        raise protocol_error(f"`map` path {path!r} must point into `variables`")
    target: Any = document
    for index, part in enumerate(parts[:-1]):
        key: Any = int(part) if part.isdigit() and isinstance(target, list) else part
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            raise protocol_error(f"`map` path {path!r} does not exist in `operations`") from None
        if target is None and index < len(parts) - 2:
            raise protocol_error(f"`map` path {path!r} does not exist in `operations`")
    last: Any = int(parts[-1]) if parts[-1].isdigit() and isinstance(target, list) else parts[-1]
    try:
        if target[last] is not None:
            raise protocol_error(f"`map` path {path!r} must point at a null placeholder")
        target[last] = value
    except (KeyError, IndexError, TypeError):
        raise protocol_error(f"`map` path {path!r} does not exist in `operations`") from None
