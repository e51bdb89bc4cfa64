"""The test suite's own GraphQL queries, for the compiled-execution differential test.

The generator (`tests/support/operations.py`) draws random shapes; the tests
also hold documents written by hand for a reason (a limit, a refusal, a page,
a persisted query, a report). Issue 16 asks that those too be answered alike
by strawberry and by a compiled plan. They are found here as the test files
hold them: every string literal under `tests/` that parses as a GraphQL
document whose operations are queries valid against the schema. A document
built at run time (an f-string, `%` or `.format` over a template) is not a
literal and is not found; the generator covers those shapes.

A document names robots of the fleet its own test built; `with_code` writes
another robot's code in their place, so the differential test can ask its
own fleet's robots the same shapes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from graphql import (
    GraphQLSchema,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError

from schema.code import is_valid

TESTS = Path(__file__).parents[1]
QUOTED = re.compile(r'"([0-9A-Z]{29})"')


def suite_queries(schema: GraphQLSchema, root: Path = TESTS) -> dict[str, str]:
    """Each query document written as a literal under `root`, with the file it is in."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = node.value
            if "{" not in text or text in found:
                continue
            try:
                document = parse(text)
            except GraphQLSyntaxError:
                continue
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if not operations or any(o.operation is not OperationType.QUERY for o in operations):
                continue
            if validate(schema, document):
                continue
            found[text] = str(path.relative_to(root))
    return found


def with_code(query: str, code: str) -> str:
    """`query` with every robot code written in it replaced by `code`."""
    return QUOTED.sub(lambda m: f'"{code}"' if is_valid(m.group(1)) else m.group(0), query)


def variables_of(query: str) -> list[tuple[str, str, bool]]:
    """(name, named type, required) of each variable of the document's first operation."""
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    found = []
    for definition in operation.variable_definitions or ():
        kind = definition.type
        required = isinstance(kind, NonNullTypeNode)
        while not hasattr(kind, "name"):
            kind = kind.type  # type: ignore[attr-defined]  # list and non-null wrap a type
        found.append((definition.variable.name.value, kind.name.value, required))  # type: ignore[attr-defined]  # a named type
    return found
