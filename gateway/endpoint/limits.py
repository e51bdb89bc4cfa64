"""Query limits: what one request may ask of the gateway before any resolver runs.

A hostile operation (an alias bomb, a depth bomb, a huge page) must be refused
for the price of parsing it, so every check here runs before execution and
answers with a code naming the rule it broke. The checks are strawberry's and
graphql-core's own (token, depth and alias limits), with our error codes added,
plus the root-field count and the cost analysis in `gateway.endpoint.cost`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.extensions.max_aliases import create_validator as aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from gateway.config.limits import Limits
from gateway.endpoint.cost import CostLimit

MAX_DEPTH = "MAX_DEPTH_LIMIT"
MAX_ALIASES = "MAX_ALIASES_LIMIT"
MAX_TOKENS = "MAX_TOKENS_LIMIT"
MAX_ROOT_FIELDS = "MAX_ROOT_FIELDS_LIMIT"
LIMIT_CODES = frozenset({MAX_DEPTH, MAX_ALIASES, MAX_TOKENS, MAX_ROOT_FIELDS, "COST_LIMIT"})


def limit_extensions(limits: Limits, slices: Mapping[str, tuple[str, int]]) -> list[Any]:
    """Strawberry extension factories enforcing `limits`; `slices` caps page arguments.

    The rule classes are made once here: the validation cache keys on them.
    """
    rules: list[type[ASTValidationRule]] = [
        coded(depth_validator(limits.max_depth, None), MAX_DEPTH),
        coded(aliases_validator(limits.max_aliases), MAX_ALIASES),
        root_fields_rule(limits.max_root_fields),
    ]
    return [
        lambda: TokenLimit(limits.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: CostLimit(limits.max_cost, limits.weights, limits.list_size, slices),
    ]


class _CodedContext:
    """A validation context whose reported errors carry `extensions.code`."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)


def coded(rule: type[ValidationRule], code: str) -> type[ValidationRule]:
    """`rule` with `code` on each error it reports: clients branch on codes, not messages."""

    class Coded(rule):  # type: ignore[misc, valid-type]  # the rule given, subclassed at run time
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodedContext(context, code))

    Coded.__name__ = rule.__name__
    return Coded


class TokenLimit(MaxTokensLimiter):
    """Strawberry's token limit (the parser stops at the limit), with its error coded.

    The parser's own guard against nesting past the interpreter's recursion
    limit is a depth limit too, so it gets MAX_DEPTH_LIMIT.
    """

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_token_count
        try:
            yield
        except GraphQLError as error:
            self._code(error)
            raise

    def _code(self, error: GraphQLError) -> None:
        if f"more than {self.max_token_count} tokens" in error.message:
            error.extensions = {**(error.extensions or {}), "code": MAX_TOKENS}
        elif "nested too deeply" in error.message:
            error.extensions = {**(error.extensions or {}), "code": MAX_DEPTH}


def root_fields_rule(maximum: int) -> type[ValidationRule]:
    """At most `maximum` root fields per operation, counted through fragments."""

    class MaxRootFields(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            count = self._count(node.selection_set, set())
            if count > maximum:
                self.report_error(
                    GraphQLError(
                        f"{count} root fields requested; at most {maximum} allowed",
                        node,
                        extensions={"code": MAX_ROOT_FIELDS},
                    )
                )

        def _count(self, selections: SelectionSetNode, seen: set[str]) -> int:
            total = 0
            for selection in selections.selections:
                if isinstance(selection, FieldNode):
                    total += 1
                elif isinstance(selection, InlineFragmentNode):
                    total += self._count(selection.selection_set, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is not None and name not in seen:
                        total += self._count(fragment.selection_set, seen | {name})
            return total

    return MaxRootFields
