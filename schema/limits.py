"""Validation rules that bound the work one GraphQL document can ask for.

One rule measures depth, aliases and cost of each operation in a single pass over the
document, each fragment measured once and its measure reused wherever it is spread
(memoised), so validation is linear in the size of the text: a document whose fragments
each spread the previous one twice (2^20 fields from 1 KB) costs what its 1 KB costs to
read, and is refused for its expanded size before anything expands it. Names do not
matter (the memo is keyed by fragment, and every spread is counted), so renaming
fragments cannot bypass the limits. Tokens are bounded at parse time (MaxTokensLimiter),
introspection depth by graphql-core's MaxIntrospectionDepthRule (a default rule).

The limits, as clients see them:
- depth: the deepest field below a root field (a root field is at 0; the subtrees of
  introspection fields do not count), as strawberry's QueryDepthLimiter measured it;
- aliases: aliased fields in the document with fragments expanded, over all operations;
- complexity: each selected field costs 1, multiplied by the page size its enclosing
  list fields ask for (`limit`/`first`/`last`, as an argument or a field of the `input`
  argument; default 1), with fragments expanded. Since every field costs at least 1, this
  also bounds the number of expanded selections.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Measure:
    """What a selection set asks for once its fragments are expanded."""

    depth: int  # levels of fields below this selection set's own fields
    aliases: int
    cost: int  # at a multiplier of 1 (cost is linear in the multiplier)


ZERO = Measure(0, 0, 0)


class _Measurer:
    """Measures selection sets of one operation; each fragment once (memoised)."""

    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], paging_variables: frozenset[str], saturate: int
    ) -> None:
        self.fragments = fragments
        self.paging_variables = paging_variables
        self.saturate = saturate  # numbers stop growing past this (they are over a limit by then)
        self.memo: dict[str, Measure] = {}
        self.in_progress: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None) -> Measure:
        if node is None:
            return ZERO
        depth = aliases = cost = 0
        cap = self.saturate
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                if sel.alias is not None:
                    aliases += 1
                cost += 1
                if sel.selection_set is not None:
                    inner = self.selection_set(sel.selection_set)
                    if not sel.name.value.startswith("__"):
                        depth = max(depth, 1 + inner.depth)
                    aliases += inner.aliases
                    cost += list_size(sel, self.paging_variables) * inner.cost
            else:
                inner = self._fragment(sel) if isinstance(sel, FragmentSpreadNode) else self.selection_set(
                    sel.selection_set if isinstance(sel, InlineFragmentNode) else None
                )
                depth = max(depth, inner.depth)
                aliases += inner.aliases
                cost += inner.cost
            aliases, cost = min(aliases, cap), min(cost, cap)
        return Measure(depth, aliases, cost)

    def _fragment(self, spread: FragmentSpreadNode) -> Measure:
        name = spread.name.value
        measure = self.memo.get(name)
        if measure is not None:
            return measure
        fragment = self.fragments.get(name)
        if fragment is None or name in self.in_progress:
            return ZERO  # unknown fragments and cycles are reported by graphql-core's rules
        self.in_progress.add(name)
        measure = self.memo[name] = self.selection_set(fragment.selection_set)
        self.in_progress.discard(name)
        return measure


def limits_rule(*, max_depth: int, max_aliases: int, max_complexity: int) -> type[ValidationRule]:
    """One validation rule for depth, aliases and complexity, linear in the document."""
    # Counts stop growing here: exact below, and a 2^60-field document stays a small int.
    saturate = 10**15

    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            total_aliases = 0
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                measurer = _Measurer(fragments, paging_variables(context, definition), saturate)
                measure = measurer.selection_set(definition.selection_set)
                total_aliases += measure.aliases
                name = definition.name.value if definition.name else "anonymous"
                if measure.depth > max_depth:
                    self._refuse(f"'{name}' exceeds maximum operation depth of {max_depth}", definition)
                if measure.cost > max_complexity:
                    cost = f"{measure.cost}" if measure.cost < saturate else f"over {max_complexity}"
                    self._refuse(f"query complexity {cost} exceeds the maximum of {max_complexity}", definition)
            if total_aliases > max_aliases:
                found = f"{total_aliases}" if total_aliases < saturate else f"more than {max_aliases}"
                self._refuse(f"{found} aliases found. Allowed: {max_aliases}", None)

        def _refuse(self, message: str, node: Any) -> None:
            self.report_error(
                GraphQLError(message, node, extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value})
            )

    return DocumentLimits


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
