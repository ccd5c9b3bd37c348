"""The per-schema document cache (schema/documents.py): each text parsed once, validated
once per (text, named or not), bounded, and never caching a failure to parse."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import print_ast
from strawberry.schema import schema as strawberry_schema

from app.config import HttpSettings
from resolvers import ALL_OPERATIONS
from schema.build import Api
from schema.documents import DocumentCache
from schema.lru import Lru

TWO_OPERATIONS = "query A { __typename } query B { __typename }"


def test_a_text_is_parsed_once_and_a_syntax_error_is_not_kept() -> None:
    cache = DocumentCache(size=4, max_tokens=100)
    first = cache.document("query { a }")
    assert first is not None and cache.document("query { a }") is first
    assert cache.document("query {") is None
    assert len(cache._documents) == 1


def test_the_least_recently_used_entry_goes_first() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "b" is now the oldest
    lru.put("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and lru.get("c") == 3 and len(lru) == 2


async def execute(api: Api, query: str, operation_name: str | None = None) -> Any:
    return await api.schema.execute(query, operation_name=operation_name)


async def test_validation_is_cached_by_text_and_by_whether_the_operation_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = Api(ALL_OPERATIONS, HttpSettings())
    validated: list[str] = []
    real = strawberry_schema.validate_document

    def counting(schema: Any, document: Any, rules: Any) -> Any:
        validated.append(print_ast(document))
        return real(schema, document, rules)

    monkeypatch.setattr(strawberry_schema, "validate_document", counting)
    # Named: valid, cached as such; unnamed, the same text holds two operations: refused,
    # before and after the named run was cached, and the other way round.
    for _ in range(2):
        assert not (await execute(api, TWO_OPERATIONS, "A")).errors
        unnamed = await execute(api, TWO_OPERATIONS)
        assert unnamed.errors and "operation" in unnamed.errors[0].message.lower()
    assert len(validated) == 2  # once named, once unnamed; the second round from the cache
    # A syntax error is reported as the result every time (never cached as a document).
    for _ in range(2):
        broken = await execute(api, "query {")
        assert broken.errors and "Syntax Error" in broken.errors[0].message
