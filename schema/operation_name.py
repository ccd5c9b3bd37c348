"""Which operation of a document runs, as the GraphQL spec's GetOperation says.

strawberry runs the first operation of a document when no `operationName` is given; the
spec makes that a request error once the document holds more than one operation, so a
client can never run an operation it did not choose.
"""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, ValidationRule

from app.errors import ErrorCode


class LoneOperationRule(ValidationRule):
    """A document run without an operation name holds exactly one operation."""

    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        operations = [d for d in node.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) > 1:
            self.report_error(
                GraphQLError(
                    "the document holds several operations: name the one to run in `operationName`",
                    operations,
                    extensions={"code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value},
                )
            )
