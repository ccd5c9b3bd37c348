"""Parsing and validating once per distinct document text.

Clients send the same few documents over and over. A document is parsed once (by its
text) and validated once (by its text and whether the client named the operation: an
unnamed document must hold a lone operation, a rule of its own). Both are kept per
schema in bounded LRU maps and served by the request's guards (schema/guards.py).

strawberry's own caches did the same work less cheaply: its ValidationCache keys an
`lru_cache` by the parsed document, and hashing a DocumentNode walks the whole tree
(~70 us for a small mutation, on every request); keyed by the text, a lookup is a string
hash. A document that does not parse is left to strawberry's own parser, which reports
the error as the result (its ParserCache let a syntax error escape the operation);
failures are never cached.
"""

from __future__ import annotations

from graphql import DocumentNode, GraphQLError, parse

from schema.lru import Lru


class DocumentCache:
    def __init__(self, *, size: int, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self._documents: Lru[str, DocumentNode] = Lru(size)
        self._errors: Lru[tuple[str, bool], list[GraphQLError]] = Lru(size)

    def document(self, text: str) -> DocumentNode | None:
        """The parsed document, or None when it does not parse (strawberry reports it)."""
        found = self._documents.get(text)
        if found is None:
            try:
                found = parse(text, max_tokens=self.max_tokens)
            except GraphQLError:
                return None
            self._documents.put(text, found)
        return found

    def errors(self, text: str, lone: bool) -> list[GraphQLError] | None:
        """The validation errors of this text, if it was validated before."""
        return self._errors.get((text, lone))

    def keep_errors(self, text: str, lone: bool, errors: list[GraphQLError]) -> None:
        self._errors.put((text, lone), errors)
