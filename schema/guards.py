"""The request's guards in one extension: token limit, validation rules, the lone
operation rule, the document cache, bulky-input precheck and error codes.

strawberry makes every schema extension anew for each request and dispatches each hook
through every extension; five small extensions were five objects and ~25 hook lookups per
request for settings that never change. Here the settings are built once (`Guards`) and
the per-request extension only points at them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from strawberry.extensions import SchemaExtension

from app.errors import AppError
from app.ops import EARLY_AUTH_VALUES, Operation, input_size
from schema.documents import DocumentCache
from schema.errors import Phase, annotate_all, to_graphql_error
from schema.operation_name import LoneOperationRule
from schema.precheck import root_operations


@dataclass(frozen=True)
class Guards:
    """What the guards enforce: made once per schema."""

    max_tokens: int
    rules: tuple[Any, ...]
    hide_suggestions: bool
    ops_by_field: Mapping[str, Operation]
    documents: DocumentCache  # parsed and validated documents, by text (schema/documents.py)


class RequestGuards(SchemaExtension):
    def __init__(self, guards: Guards) -> None:
        self.guards = guards

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.parse_options["max_tokens"] = self.guards.max_tokens
        rules = self.guards.rules
        # The name as the client sent it (`ctx.operation_name` falls back to the first one):
        # without one, a document must hold exactly one operation (a rule, so it also holds
        # when validation results are cached).
        if ctx._provided_operation_name is None:
            rules = (*rules, LoneOperationRule)
        ctx.validation_rules = (*ctx.validation_rules, *rules)
        yield
        annotate_all(ctx.pre_execution_errors, Phase.EXECUTION, self.guards.hide_suggestions)
        annotate_all(getattr(ctx.result, "errors", None), Phase.EXECUTION, self.guards.hide_suggestions)

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None and ctx.query:
            ctx.graphql_document = self.guards.documents.document(ctx.query)
        yield
        annotate_all(ctx.pre_execution_errors, Phase.PARSE, self.guards.hide_suggestions)

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        text, lone = ctx.query, ctx._provided_operation_name is None
        cached = self.guards.documents.errors(text, lone) if text else None
        if cached is not None:
            ctx.pre_execution_errors = cached  # strawberry validates only when this is None
        yield
        if cached is None and text and ctx.pre_execution_errors is not None:
            self.guards.documents.keep_errors(text, lone, ctx.pre_execution_errors)
        annotate_all(ctx.pre_execution_errors, Phase.VALIDATION, self.guards.hide_suggestions)

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        if ec.variables:
            try:
                if input_size(ec.variables, "variables") > EARLY_AUTH_VALUES:
                    for op in root_operations(ec, self.guards.ops_by_field):
                        await op.authenticate_early(ec.context)
                        break
            except AppError as exc:
                raise to_graphql_error(exc) from None
        yield
