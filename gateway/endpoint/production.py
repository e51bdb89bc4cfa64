"""Production mode: tell a stranger nothing about the schema or the server's insides.

Introspection and suggestions would hand an attacker the schema; an internal
exception's message can carry paths, SQL or data. Our own errors (those a
resolver raises as `GraphQLError`, all with `extensions.code`) stay as they are:
clients depend on them.
"""

from __future__ import annotations

from typing import Any

from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaskErrors

from gateway.endpoint.limits import coded

INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
MASKED_MESSAGE = "Internal server error"


def is_internal(error: GraphQLError) -> bool:
    """An exception that is not a GraphQL error escaped a resolver: a bug, not an answer."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def protective_extensions(*, introspection: bool, mask_errors: bool) -> list[Any]:
    """Extension factories for introspection off and internal errors masked."""
    extensions: list[Any] = []
    if not introspection:
        rules: list[type[ASTValidationRule]] = [
            coded(NoSchemaIntrospectionCustomRule, INTROSPECTION_DISABLED)
        ]
        extensions.append(lambda: AddValidationRules(rules))
    if mask_errors:
        extensions.append(lambda: MaskErrors(is_internal, MASKED_MESSAGE))
    return extensions
