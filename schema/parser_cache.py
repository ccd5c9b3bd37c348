"""Parsing once per distinct document, without losing syntax errors.

strawberry's ParserCache parses in its `on_parse` hook and lets a syntax error escape
the operation, so it is never reported as a result: over HTTP it surfaces late, over
WebSocket the client gets no error at all. Here a document that does not parse is left
to strawberry's own parser, which reports the error as usual (failures are not cached).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache as StrawberryParserCache


class ParserCache(StrawberryParserCache):
    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        try:
            ctx.graphql_document = self.cached_parse_document(ctx.query, **ctx.parse_options)
        except GraphQLError:
            pass  # strawberry parses again and reports the error as the result
        yield
