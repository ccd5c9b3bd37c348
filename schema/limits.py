"""Validation rules that bound the work one GraphQL document can ask for.

Depth, aliases and tokens are bounded by strawberry's limiter extensions (see
schema/build.py), introspection depth by graphql-core's MaxIntrospectionDepthRule (among
the default rules); this module adds query complexity.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    ValueNode,
    VariableNode,
)

from app.errors import ErrorCode

LIST_ARGUMENT_NAMES = ("limit", "first", "last")
# A page size given as a variable is unknown while validating; assume a large page.
VARIABLE_LIST_SIZE = 100
MAX_LIST_SIZE = 10_000


def complexity_rule(max_complexity: int) -> type[ValidationRule]:
    """Each selected field costs 1, multiplied by the page size its enclosing list fields
    ask for (`limit`/`first`/`last`, as an argument or a field of the `input` argument;
    default 1); fragments are expanded; the total per operation is bounded."""

    class ComplexityLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments = {
                d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            self.paging_variables: frozenset[str] = frozenset()

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            self.paging_variables = paging_variables(self.context, node)
            cost = self._cost(node.selection_set, 1, set())
            if cost > max_complexity:
                self.report_error(
                    GraphQLError(
                        f"query complexity {cost} exceeds the maximum of {max_complexity}",
                        node,
                        extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value},
                    )
                )

        def _cost(self, selection_set: SelectionSetNode | None, multiplier: int, seen: set[str]) -> int:
            if selection_set is None:
                return 0
            total = 0
            for sel in selection_set.selections:
                if isinstance(sel, FieldNode):
                    total += multiplier
                    inner = multiplier * list_size(sel, self.paging_variables)
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


def paging_variables(context: ValidationContext, node: OperationDefinitionNode) -> frozenset[str]:
    """Variables of an input object type with a page size field (`$input: XInput!` where
    XInput has `limit`): their value, and so the page size, is unknown while validating."""
    names = set()
    for definition in node.variable_definitions or ():
        type_node: Any = definition.type
        while not isinstance(type_node, NamedTypeNode):
            type_node = type_node.type
        type_ = context.schema.get_type(type_node.name.value)
        if isinstance(type_, GraphQLInputObjectType) and any(f in type_.fields for f in LIST_ARGUMENT_NAMES):
            names.add(definition.variable.name.value)
    return frozenset(names)


def list_size(node: FieldNode, paging_variables: frozenset[str] = frozenset()) -> int:
    """The page size a field asks for: `field(limit: 50)`, `field(input: {limit: 50})`, or
    `field(input: $input)` with a paging variable."""
    for arg in node.arguments or ():
        if arg.name.value in LIST_ARGUMENT_NAMES:
            return _size(arg.value)
        if isinstance(arg.value, VariableNode) and arg.value.name.value in paging_variables:
            return VARIABLE_LIST_SIZE
        if isinstance(arg.value, ObjectValueNode):
            for field in arg.value.fields:
                if field.name.value in LIST_ARGUMENT_NAMES:
                    return _size(field.value)
    return 1


def _size(value: ValueNode) -> int:
    if isinstance(value, VariableNode):
        return VARIABLE_LIST_SIZE
    if isinstance(value, IntValueNode):
        try:
            return max(1, min(int(value.value), MAX_LIST_SIZE))
        except ValueError:
            return 1
    return 1  # a wrong type is reported by the validation of argument values
