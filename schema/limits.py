"""Validation rules that bound the work one GraphQL document can ask for."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

LIST_ARGUMENT_NAMES = ("limit", "first", "last")


def complexity_rule(max_complexity: int) -> type[ValidationRule]:
    """Each selected field costs 1, multiplied by the `limit` its parent list field asks for
    (default 1); fragments are expanded; the total per operation is bounded."""

    class ComplexityLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments = {
                d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = self._cost(node.selection_set, 1, set())
            if cost > max_complexity:
                self.report_error(
                    GraphQLError(
                        f"query complexity {cost} exceeds the maximum of {max_complexity}",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX"},
                    )
                )

        def _cost(self, selection_set: SelectionSetNode | None, multiplier: int, seen: set[str]) -> int:
            if selection_set is None:
                return 0
            total = 0
            for sel in selection_set.selections:
                if isinstance(sel, FieldNode):
                    total += multiplier
                    inner = multiplier * _limit_argument(sel)
                    total += self._cost(sel.selection_set, inner, seen)
                elif isinstance(sel, InlineFragmentNode):
                    total += self._cost(sel.selection_set, multiplier, seen)
                elif isinstance(sel, FragmentSpreadNode):
                    name = sel.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in seen:  # cycles are reported by another rule
                        total += self._cost(fragment.selection_set, multiplier, seen | {name})
                if total > max_complexity:
                    return total
            return total

    return ComplexityLimit


def _limit_argument(node: FieldNode) -> int:
    for arg in node.arguments or ():
        value = arg.value
        if arg.name.value in LIST_ARGUMENT_NAMES and hasattr(value, "value"):
            try:
                return max(1, min(int(value.value), 10_000))  # type: ignore[attr-defined]
            except (TypeError, ValueError):
                return 1
    return 1
