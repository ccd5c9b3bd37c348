"""Bulky variables are sized, and their caller authenticated, before they are read.

graphql-core coerces every variable before the first resolver (and so before
`Operation.invoke` authenticates): an anonymous request with a 26k-item list kept the
event loop busy for a second only to answer UNAUTHENTICATED. The check runs just
before execution (`RequestGuards.on_execute`, schema/guards.py): variables holding an
oversized list are refused, and variables of more
than a few hundred values are read only once the caller of an operation that needs a
session has shown a live one (`Operation.precheck` does the same on the native door).
Literal values need no such step: the token limit bounds them at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from app.ops import Operation


def root_operations(ec: Any, ops_by_field: Mapping[str, Operation]) -> list[Operation]:
    """The registry operations of the root fields of the operation about to run (of an
    execution context), those that need a session first."""
    document = ec.graphql_document
    if document is None:
        return []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    wanted = ec.operation_name
    operation = next(
        (d for d in operations if wanted is None or (d.name is not None and d.name.value == wanted)), None
    )
    if operation is None:
        return []
    names: list[str] = []
    seen: set[str] = set()

    def collect(selection_set: SelectionSetNode) -> None:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                names.append(sel.name.value)
            elif isinstance(sel, InlineFragmentNode):
                collect(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                seen.add(sel.name.value)
                fragment = fragments.get(sel.name.value)
                if fragment is not None:
                    collect(fragment.selection_set)

    collect(operation.selection_set)
    ops = [ops_by_field[n] for n in names if n in ops_by_field]
    return [op for op in ops if op.auth.value != "none"]
