"""Bad input and expensive documents at /graphql: each is refused with a typed error and
the right HTTP status, nothing crashes, and the next normal request is served."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from app.config import Settings

GRJ = "application/graphql-response+json"
HISTORY = "accountAuthLoginHistory(input: {limit: %d}) { attempts { success reason deviceId ip } }"


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], request: pytest.FixtureRequest) -> Settings:
    """Default settings (the limits are on by default), or `http` overrides given by
    indirect parametrization."""
    return settings_factory(http=getattr(request, "param", {}))


@pytest.fixture
async def http(client_asgi: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=client_asgi, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post("/graphql", content=content, headers={"content-type": "application/json", "accept": GRJ})


async def query(http: httpx.AsyncClient, document: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    return await post(http, {"query": document, "variables": variables})


async def assert_refused(response: httpx.Response, status: int, code: str, http: httpx.AsyncClient) -> None:
    """The request got a typed error, and the server still answers normal requests."""
    assert response.status_code == status, response.text
    body = response.json()
    assert "data" not in body
    assert code in [e["extensions"]["code"] for e in body["errors"]], body
    assert "Traceback" not in response.text
    after = await query(http, "{ systemHealth { status } }")
    assert after.status_code == 200 and after.json()["data"]["systemHealth"]["status"] == "ok"


def nested(depth: int) -> str:
    """`{ a { a { ... } } }`, `depth` fields deep."""
    return "{ " + "a { " * (depth - 1) + "a" + " }" * depth


# --- the four configured limits ------------------------------------------------------------


async def test_query_depth_is_limited(http: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.http.max_query_depth
    response = await query(http, nested(limit + 5))
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert f"exceeds maximum operation depth of {limit}" in response.text


@pytest.mark.parametrize("settings", [{"max_query_depth": 1}], indirect=True)
async def test_query_depth_limit_is_configurable(http: httpx.AsyncClient) -> None:
    assert (await query(http, "{ systemHealth { status } }")).status_code == 200
    response = await query(http, "{ accountProfileGet { profile { id } } }")
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["QUERY_TOO_COMPLEX"]
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


async def test_aliases_are_limited(http: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.http.max_aliases
    response = await query(http, aliases(limit + 1))
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert f"{limit + 1} aliases found. Allowed: {limit}" in response.text
    assert (await query(http, aliases(limit))).status_code == 200


@pytest.mark.parametrize("settings", [{"max_aliases": 30}], indirect=True)
async def test_alias_bombs_through_fragments_are_limited(http: httpx.AsyncClient) -> None:
    # Few aliases in the text, many once the fragments are expanded.
    document = """
      query { ...F1 ...F2 ...F3 ...F4 }
      fragment A on Query { a1: __typename a2: __typename a3: __typename a4: __typename a5: __typename }
      fragment B on Query { b1: __typename b2: __typename b3: __typename b4: __typename b5: __typename }
      fragment C on Query { c1: __typename c2: __typename c3: __typename c4: __typename c5: __typename }
      fragment F1 on Query { ...A ...B ...C }
      fragment F2 on Query { ...A ...B ...C x1: __typename x2: __typename }
      fragment F3 on Query { ...A ...B ...C y1: __typename y2: __typename }
      fragment F4 on Query { ...A ...B ...C z1: __typename z2: __typename }
    """
    response = await query(http, document)
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert "66 aliases found" in response.text


async def test_tokens_are_limited(http: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.http.max_tokens
    response = await query(http, "{ " + "__typename " * limit + "}")
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert f"more than {limit} tokens" in response.text


async def test_comments_count_as_tokens(http: httpx.AsyncClient, settings: Settings) -> None:
    document = "{ __typename }\n" + "#\n" * settings.http.max_tokens
    await assert_refused(await query(http, document), 400, "QUERY_TOO_COMPLEX", http)


@pytest.mark.parametrize("settings", [{"max_complexity": 2000}], indirect=True)
async def test_complexity_counts_page_sizes(http: httpx.AsyncClient) -> None:
    # 1 + 100 * 5 is fine; 1 + 500 * 5 exceeds the maximum of 2000.
    assert "complexity" not in (await query(http, "{ " + HISTORY % 100 + " }")).text
    response = await query(http, "{ " + HISTORY % 500 + " }")
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert "query complexity 2501 exceeds the maximum of 2000" in response.text


@pytest.mark.parametrize("settings", [{"max_complexity": 100}], indirect=True)
async def test_complexity_assumes_a_large_page_for_variables(http: httpx.AsyncClient) -> None:
    document = """query($i: AccountAuthLoginHistoryInput!) {
      accountAuthLoginHistory(input: $i) { attempts { success reason deviceId ip } } }"""
    response = await query(http, document, {"i": {"limit": 1}})
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)


@pytest.mark.parametrize("settings", [{"max_complexity": 10}], indirect=True)
async def test_complexity_limit_is_configurable(http: httpx.AsyncClient) -> None:
    assert (await query(http, aliases(10))).status_code == 200
    response = await query(http, aliases(11))
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)


# --- nesting beyond the interpreter's stack ------------------------------------------------


@pytest.mark.parametrize("settings", [{"max_tokens": 100_000, "max_query_depth": 100}], indirect=True)
async def test_documents_nested_too_deeply_to_parse_are_refused(http: httpx.AsyncClient) -> None:
    # Far deeper than Python's recursion limit: the parser must stop, not overflow.
    await assert_refused(await query(http, nested(20_000)), 400, "QUERY_TOO_COMPLEX", http)
    await assert_refused(
        await query(http, "{ a(x: " + "[" * 20_000 + "]" * 20_000 + ") }"), 400, "QUERY_TOO_COMPLEX", http
    )


async def test_introspection_cannot_nest_deeply(http: httpx.AsyncClient) -> None:
    document = "{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }"
    await assert_refused(await query(http, document), 400, "QUERY_TOO_COMPLEX", http)


# --- oversized and garbage input ---------------------------------------------------------


async def test_oversized_documents_are_413(http: httpx.AsyncClient) -> None:
    document = "{ __typename }" + " " * (1024 * 1024)
    await assert_refused(await query(http, document), 413, "PAYLOAD_TOO_LARGE", http)


async def test_huge_variable_payloads_are_413(http: httpx.AsyncClient) -> None:
    variables = {"id": "1", "pad": ["x" * 1000] * 2000}
    response = await query(
        http, "query($id: ID!) { accountUserDetail(input: {userId: $id}) { user { id } } }", variables
    )
    await assert_refused(response, 413, "PAYLOAD_TOO_LARGE", http)


async def test_deeply_nested_variables_are_bad_input(http: httpx.AsyncClient) -> None:
    document = "query($id: ID!) { accountUserDetail(input: {userId: $id}) { user { id } } }"
    too_deep_for_json = b'{"query": "%s", "variables": {"id": %s}}' % (
        document.encode(),
        b"[" * 100_000 + b"]" * 100_000,
    )
    await assert_refused(await post(http, too_deep_for_json), 400, "PROTOCOL_ERROR", http)
    nested_value: Any = "1"
    for _ in range(500):
        nested_value = [nested_value]
    await assert_refused(await query(http, document, {"id": nested_value}), 400, "BAD_USER_INPUT", http)


@pytest.mark.parametrize(
    "body",
    [
        b"\x00" * 64,
        b"\x89PNG\r\n\x1a\n" + b"\x00\xff" * 100,
        b'{"query": "{ __typename }"',  # truncated
        b'{"query": "{ __typename }"}{"query": "{ __typename }"}',  # two documents
        b'{"query": "\\ud800"}',  # a lone surrogate
        b'{"query": Infinity}',
        b"\xef\xbb\xbf" + b"\xc3\x28",  # a BOM, then invalid UTF-8
        b"null",
        b"true",
        b'"' + b"a" * 10_000 + b'"',
        os.urandom(2048),
    ],
)
async def test_garbage_bodies_are_400(http: httpx.AsyncClient, body: bytes) -> None:
    response = await post(http, body)
    await assert_refused(response, 400, response.json()["errors"][0]["extensions"]["code"], http)
    assert response.json()["errors"][0]["extensions"]["code"] in ("PROTOCOL_ERROR", "GRAPHQL_PARSE_FAILED")


async def test_garbage_documents_are_parse_errors(http: httpx.AsyncClient) -> None:
    for document in ("\x00\x01\x02", "{ __typename", "}}}}", "query query query", '{ a(x: "unterminated) }', "\ufeff{"):
        await assert_refused(await query(http, document), 400, "GRAPHQL_PARSE_FAILED", http)


# --- introspection ------------------------------------------------------------------------


async def test_introspection_is_on_by_default(http: httpx.AsyncClient) -> None:
    response = await query(http, "{ __schema { queryType { name } } }")
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize("settings", [{"introspection": False}], indirect=True)
async def test_introspection_can_be_turned_off(http: httpx.AsyncClient) -> None:
    for document in ("{ __schema { queryType { name } } }", '{ __type(name: "Query") { name } }'):
        await assert_refused(await query(http, document), 400, "GRAPHQL_VALIDATION_FAILED", http)
    # __typename is not introspection of the schema, clients rely on it.
    assert (await query(http, "{ __typename }")).json() == {"data": {"__typename": "Query"}}
    # One switch hides the schema in every form: no SDL, no GraphiQL, no suggested names.
    assert (await http.get("/graphql/schema.graphql")).status_code == 404
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert "graphiql" not in page.text.lower()
    typo = await query(http, "{ systemHealt { status } }")
    assert typo.json()["errors"][0]["message"] == "Cannot query field 'systemHealt' on type 'Query'."
    enum_typo = await query(
        http, "query($d: FriendRequestDirection!) { contactFriendPending(input: {direction: $d}) { __typename } }",
        {"d": "INCOMIN"},
    )
    assert "Did you mean" not in enum_typo.text and enum_typo.json()["errors"][0]["extensions"]["code"]


async def test_with_introspection_on_the_schema_is_published(http: httpx.AsyncClient) -> None:
    assert "type Query" in (await http.get("/graphql/schema.graphql")).text
    typo = await query(http, "{ systemHealt { status } }")
    assert "Did you mean 'systemHealth'?" in typo.json()["errors"][0]["message"]


# --- fragment bombs: validation is linear in the document ----------------------------------


def fragment_bomb(levels: int, names: str = "L") -> str:
    """~1 KB: each fragment spreads the previous one twice (2^levels fields once expanded)."""
    fragments = [f"fragment {names}0 on SystemHealthPayload {{ status }}"]
    fragments += [
        f"fragment {names}{i} on SystemHealthPayload {{ ...{names}{i - 1} ...{names}{i - 1} }}"
        for i in range(1, levels + 1)
    ]
    return f"{{ systemHealth {{ ...{names}{levels} }} }}\n" + "\n".join(fragments)


@pytest.mark.parametrize("names", ["L", "Zz"])
async def test_fragment_bombs_are_refused_in_linear_time(http: httpx.AsyncClient, names: str) -> None:
    # Each level doubles the expanded size: 20 levels took 9.4 s when strawberry's depth
    # and alias rules expanded every spread again; memoised, it costs what 1 KB costs.
    document = fragment_bomb(20, names)
    assert len(document) < 1500
    started = time.perf_counter()
    response = await query(http, document)
    elapsed = time.perf_counter() - started
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert "query complexity 1048577 exceeds the maximum of 20000" in response.text
    assert elapsed < 2.0, elapsed  # wall time on a shared, loaded machine; ~10 ms unloaded


def test_fragment_bomb_validation_is_linear(api: Any) -> None:
    """The validation step alone, 20 and 40 levels: well under the 50 ms budget."""
    from graphql import parse, validate
    from graphql.validation import specified_rules

    from schema.limits import limits_rule

    schema = api.schema._schema
    rule = limits_rule(max_depth=12, max_aliases=30, max_complexity=20_000)
    for levels in (20, 40):
        document = parse(fragment_bomb(levels))
        started = time.process_time()  # CPU time: neighbours on a shared box do not count
        errors = validate(schema, document, [*specified_rules, rule])
        elapsed = time.process_time() - started
        assert [e.extensions["code"] for e in errors if e.extensions] == ["QUERY_TOO_COMPLEX"], errors
        assert elapsed < 0.05, (levels, elapsed)


@pytest.mark.parametrize("settings", [{"max_aliases": 30}], indirect=True)
async def test_alias_bombs_through_doubling_fragments_are_limited(http: httpx.AsyncClient) -> None:
    fragments = ["fragment A0 on Query { a: __typename }"]
    fragments += [f"fragment A{i} on Query {{ ...A{i - 1} ...A{i - 1} }}" for i in range(1, 31)]
    response = await query(http, "{ ...A30 }\n" + "\n".join(fragments))
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert f"{2**30} aliases found. Allowed: 30" in response.text


async def test_depth_through_fragments_is_limited(http: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.http.max_query_depth
    # The depth hides in a chain of fragments, each one level deeper than the last.
    response = await query(
        http,
        "{ a { ...D0 } }\n"
        + "\n".join(f"fragment D{i} on T {{ a {{ ...D{i + 1} }} }}" for i in range(limit + 2))
        + f"\nfragment D{limit + 2} on T {{ a }}",
    )
    await assert_refused(response, 400, "QUERY_TOO_COMPLEX", http)
    assert f"exceeds maximum operation depth of {limit}" in response.text
