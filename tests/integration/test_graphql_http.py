"""GraphQL over HTTP at /graphql, as the GraphQL-over-HTTP spec has it: methods, media
types and content negotiation, parameters, status codes, typed errors, GraphiQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.runtime import Services

GRJ = "application/graphql-response+json"
JSON = "application/json"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
REGISTER = """mutation($u: String!) { accountUserRegister(input: {username: $u, password: "correct-horse-9"}) {
  user { username } } }"""
USER_DETAIL = "query($id: ID!) { accountUserDetail(input: {userId: $id}) { user { id } } }"
PROFILE = "query { accountProfileGet { profile { id } } }"


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], request: pytest.FixtureRequest) -> Settings:
    """Default settings, or `http` overrides given by indirect parametrization."""
    return settings_factory(http=getattr(request, "param", {}))


@pytest.fixture
async def http(client_asgi: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=client_asgi, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    http: httpx.AsyncClient, body: Any, *, accept: str | None = JSON, content_type: str | None = JSON
) -> httpx.Response:
    headers = {}
    if accept is not None:
        headers["accept"] = accept
    if content_type is not None:
        headers["content-type"] = content_type
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post("/graphql", content=content, headers=headers)


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


# --- media types and negotiation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRJ, GRJ),
        (JSON, JSON),
        (None, JSON),  # no Accept: the legacy default
        ("*/*", JSON),
        ("application/*", JSON),
        (f"{GRJ}, {JSON};q=0.9", GRJ),
        (f"{JSON}, {GRJ}", GRJ),  # equally weighted: the newer, specific type
        (f"{GRJ};q=0.5, {JSON}", JSON),
        (f"{JSON};q=0, */*", GRJ),  # application/json refused explicitly
        (f"{JSON}; charset=utf-8", JSON),
        (BROWSER_ACCEPT, JSON),
    ],
)
async def test_response_media_type_follows_the_accept_header(
    http: httpx.Response, accept: str | None, expected: str
) -> None:
    response = await post(http, {"query": "{ __typename }"}, accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}
    assert "accept" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", f"{JSON};q=0, {GRJ};q=0", f"{JSON}; charset=latin1"]
)
async def test_an_accept_header_allowing_neither_json_type_is_406(http: httpx.AsyncClient, accept: str) -> None:
    response = await post(http, {"query": "{ __typename }"}, accept=accept)
    assert response.status_code == 406
    assert codes(response) == ["PROTOCOL_ERROR"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
    ],
)
async def test_post_bodies_other_than_utf8_json_are_415(http: httpx.AsyncClient, content_type: str | None) -> None:
    response = await post(http, {"query": "{ __typename }"}, content_type=content_type)
    assert response.status_code == 415
    assert codes(response) == ["PROTOCOL_ERROR"]
    assert "application/json" in response.json()["errors"][0]["message"]


async def test_multipart_is_the_upload_spec_and_a_malformed_body_is_400(http: httpx.AsyncClient) -> None:
    # multipart/form-data carries GraphQL multipart requests (file uploads, docs/FILES.md)
    response = await post(http, {"query": "{ __typename }"}, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 400
    assert codes(response) == ["PROTOCOL_ERROR"]


async def test_utf8_in_requests_and_responses(http: httpx.AsyncClient) -> None:
    response = await post(
        http, {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}, content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200 and response.json() == {"data": {"__type": None}}
    register = """mutation { accountUserRegister(input: {username: "zoe", password: "correct-horse-9",
        displayName: "Zoë 🏊"}) { user { displayName } } }"""
    created = await post(http, {"query": register})
    assert "Zoë 🏊".encode() in created.content  # UTF-8 on the wire, not \\u escapes


# --- methods ------------------------------------------------------------------------------


async def test_get_runs_queries_with_json_encoded_variables(http: httpx.AsyncClient) -> None:
    params = {
        "query": "query T($name: String!) { __type(name: $name) { name } }",
        "variables": json.dumps({"name": "Query"}),
        "operationName": "T",
        "extensions": json.dumps({"some": "value"}),
    }
    response = await http.get("/graphql", params=params, headers={"accept": GRJ})
    assert response.status_code == 200
    assert response.json() == {"data": {"__type": {"name": "Query"}}}


@pytest.mark.parametrize("accept", [GRJ, JSON])
async def test_get_refuses_mutations_with_405_and_runs_nothing(http: httpx.AsyncClient, accept: str) -> None:
    response = await http.get(
        "/graphql", params={"query": REGISTER, "variables": json.dumps({"u": "ann"})}, headers={"accept": accept}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response) == ["PROTOCOL_ERROR"]
    # Nothing was registered: the same mutation over POST succeeds.
    created = await post(http, {"query": REGISTER, "variables": {"u": "ann"}})
    assert created.json() == {"data": {"accountUserRegister": {"user": {"username": "ann"}}}}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405_with_allow(http: httpx.AsyncClient, method: str) -> None:
    response = await http.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert codes(response) == ["PROTOCOL_ERROR"]


async def test_options_lists_the_allowed_methods(http: httpx.AsyncClient) -> None:
    response = await http.options("/graphql")
    assert response.status_code == 204 and response.headers["allow"] == "GET, POST"


async def test_subscriptions_over_http_are_refused(http: httpx.AsyncClient) -> None:
    response = await post(http, {"query": "subscription { events { __typename } }"}, accept=GRJ)
    assert response.status_code == 400
    assert codes(response) == ["PROTOCOL_ERROR"]
    assert "WebSocket" in response.json()["errors"][0]["message"]


# --- parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "PROTOCOL_ERROR"),
        (b"   ", "PROTOCOL_ERROR"),
        (b'{ "not a JSON', "PROTOCOL_ERROR"),
        (b"\xff\xfe{}", "PROTOCOL_ERROR"),  # not UTF-8
        (b'{"query": NaN}', "PROTOCOL_ERROR"),
        ([{"query": "{ __typename }"}], "PROTOCOL_ERROR"),  # batches are not supported
        ("{ __typename }", "PROTOCOL_ERROR"),
        (42, "PROTOCOL_ERROR"),
        (None, "PROTOCOL_ERROR"),
        ({}, "PROTOCOL_ERROR"),
        ({"qeury": "{ __typename }"}, "PROTOCOL_ERROR"),
        ({"query": ""}, "PROTOCOL_ERROR"),
        ({"query": {"obj": "ect"}}, "PROTOCOL_ERROR"),
        ({"query": ["{ __typename }"]}, "PROTOCOL_ERROR"),
        ({"query": 0}, "PROTOCOL_ERROR"),
        ({"query": "{ __typename }", "operationName": 1}, "PROTOCOL_ERROR"),
        ({"query": "{ __typename }", "operationName": {}}, "PROTOCOL_ERROR"),
        ({"query": "{ __typename }", "variables": "string"}, "BAD_USER_INPUT"),
        ({"query": "{ __typename }", "variables": ["array"]}, "BAD_USER_INPUT"),
        ({"query": "{ __typename }", "variables": 0}, "BAD_USER_INPUT"),
        ({"query": "{ __typename }", "extensions": "string"}, "PROTOCOL_ERROR"),
        ({"query": "{ __typename }", "extensions": False}, "PROTOCOL_ERROR"),
    ],
)
@pytest.mark.parametrize("accept", [GRJ, JSON])
async def test_malformed_requests_are_400_with_a_code(
    http: httpx.AsyncClient, body: Any, code: str, accept: str
) -> None:
    response = await post(http, body, accept=accept)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(accept)
    assert "data" not in response.json()
    assert codes(response) == [code]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "PROTOCOL_ERROR"),
        ({"query": ""}, "PROTOCOL_ERROR"),
        ({"query": "{ __typename }", "variables": "{not json"}, "BAD_USER_INPUT"),
        ({"query": "{ __typename }", "variables": "[1]"}, "BAD_USER_INPUT"),
        ({"query": "{ __typename }", "extensions": "nope"}, "PROTOCOL_ERROR"),
    ],
)
async def test_malformed_get_requests_are_400(http: httpx.AsyncClient, params: dict[str, str], code: str) -> None:
    response = await http.get("/graphql", params=params, headers={"accept": GRJ})
    assert response.status_code == 400
    assert codes(response) == [code]


@pytest.mark.parametrize("key", ["variables", "operationName", "extensions"])
async def test_null_optional_parameters_are_accepted(http: httpx.AsyncClient, key: str) -> None:
    response = await post(http, {"query": "{ __typename }", key: None}, accept=GRJ)
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


async def test_operation_name_selects_the_operation(http: httpx.AsyncClient) -> None:
    doc = "query A { a: __typename } query B { b: __typename }"
    response = await post(http, {"query": doc, "operationName": "B"}, accept=GRJ)
    assert response.json() == {"data": {"b": "Query"}}
    no_operation = {"query": "fragment F on Query { __typename }"}
    for body in ({"query": doc}, {"query": doc, "operationName": "C"}, no_operation):
        response = await post(http, body, accept=GRJ)
        assert response.status_code == 400
        assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
        assert "data" not in response.json()


# --- status codes and error codes by media type ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"}, "GRAPHQL_PARSE_FAILED"),  # a name cannot start with 8
        ({"query": "{ f8f31403dfe404bccbb0e835f2629c6a7 }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "query($u: String) { __typename }"}, "GRAPHQL_VALIDATION_FAILED"),  # unused variable
        ({"query": "query A { __typename } query B { __typename }"}, "GRAPHQL_VALIDATION_FAILED"),  # which one?
        ({"query": USER_DETAIL, "variables": {"id": None}}, "BAD_USER_INPUT"),
        ({"query": USER_DETAIL, "variables": {"id": {"a": 1}}}, "BAD_USER_INPUT"),
        ({"query": REGISTER, "variables": {"u": 5}}, "BAD_USER_INPUT"),
        ({"query": REGISTER, "variables": {}}, "BAD_USER_INPUT"),
    ],
)
async def test_request_errors_are_400_for_graphql_response_json_and_200_for_json(
    http: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    strict = await post(http, body, accept=GRJ)
    assert strict.status_code == 400
    assert strict.headers["content-type"].startswith(GRJ)
    legacy = await post(http, body, accept=JSON)
    assert legacy.status_code == 200  # a well-formed request: the legacy contract
    for response in (strict, legacy):
        assert "data" not in response.json()  # execution never started
        assert codes(response) == [code]


@pytest.mark.parametrize("accept", [GRJ, JSON])
async def test_field_errors_are_200_with_data(http: httpx.AsyncClient, accept: str) -> None:
    response = await post(http, {"query": PROFILE}, accept=accept)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["accountProfileGet"]
    assert codes(response) == ["UNAUTHENTICATED"]


async def test_unexpected_failures_show_no_internals(
    http: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**_: Any) -> Any:
        raise RuntimeError("connection to db-7.internal:5432 lost; password=hunter2")

    monkeypatch.setattr(services.accounts, "register", broken)
    response = await post(http, {"query": REGISTER, "variables": {"u": "ann"}}, accept=GRJ)
    assert response.status_code == 200
    assert codes(response) == ["INTERNAL"]
    assert response.json()["errors"][0]["message"] == "internal server error"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "hunter2" in caplog.text  # the log has it


async def test_a_crash_in_the_transport_is_a_500_without_details(
    http: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schema.http import GraphQLHTTP

    async def broken(*_: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(GraphQLHTTP, "execute", broken)
    response = await post(http, {"query": "{ __typename }"})
    assert response.status_code == 500
    assert response.json() == {"errors": [{"message": "internal server error", "extensions": {"code": "INTERNAL"}}]}


# --- body size ----------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"max_body_bytes": 4096}], indirect=True)
@pytest.mark.parametrize("streamed", [False, True])
async def test_bodies_over_the_limit_are_413(http: httpx.AsyncClient, streamed: bool) -> None:
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 5000}}).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    content: Any = chunks() if streamed else body
    response = await http.post("/graphql", content=content, headers={"content-type": JSON, "accept": GRJ})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(GRJ)
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]
    assert (await post(http, {"query": "{ __typename }"})).status_code == 200


# --- GraphiQL -----------------------------------------------------------------------------


async def test_browsers_get_graphiql(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/graphql/static/graphiql.min.js" in response.text


async def test_graphiql_only_for_html_without_a_query(http: httpx.AsyncClient) -> None:
    api_client = await http.get("/graphql", headers={"accept": "*/*"})
    assert api_client.status_code == 400 and codes(api_client) == ["PROTOCOL_ERROR"]
    with_query = await http.get("/graphql", params={"query": "{ __typename }"}, headers={"accept": BROWSER_ACCEPT})
    assert with_query.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("settings", [{"graphiql": False}], indirect=True)
async def test_graphiql_can_be_turned_off(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 400
    assert not response.headers["content-type"].startswith("text/html")
    assert codes(response) == ["PROTOCOL_ERROR"]
    assert (await post(http, {"query": "{ __typename }"})).status_code == 200


# --- metrics ------------------------------------------------------------------------------


async def test_requests_are_counted_by_status(http: httpx.AsyncClient, services: Services) -> None:
    def count(status: str) -> float:
        value = services.metrics.registry.get_sample_value("privchat_graphql_http_requests_total", {"status": status})
        return value or 0.0

    before = {status: count(status) for status in ("200", "400", "405", "415")}
    await post(http, {"query": "{ __typename }"})
    await post(http, {"query": "{"}, accept=GRJ)
    await post(http, b"nope")
    await http.put("/graphql")
    await post(http, {"query": "{ __typename }"}, content_type="text/plain")
    assert {status: count(status) - before[status] for status in before} == {"200": 1, "400": 2, "405": 1, "415": 1}
