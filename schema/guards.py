"""The request's guards in one extension: token limit, validation rules, the lone
operation rule, bulky-input precheck and error codes.

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
        yield
        annotate_all(self.execution_context.pre_execution_errors, Phase.PARSE, self.guards.hide_suggestions)

    def on_validate(self) -> Iterator[None]:
        yield
        annotate_all(
            self.execution_context.pre_execution_errors, Phase.VALIDATION, self.guards.hide_suggestions
        )

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
