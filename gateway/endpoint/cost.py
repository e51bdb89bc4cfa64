"""Cost analysis: an estimate of the work an operation asks for, checked before execution.

Depth and alias limits alone let a shallow query ask for 100 robots times 100
history events; the cost counts that. Each object field costs its weight (1
unless listed), leaf fields cost nothing, and a list multiplies the cost of its
items by its size: the page argument (`first`, `last`) when the field or its
connection has one, else an assumed size (`WINDOWS` are the exceptions). Page
arguments are also checked against their caps here, so an oversized page is
refused before any work.
Introspection is counted like any other selection: its types nest without end
(`fields { type { fields ... } }`), and the depth limit does not look at it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

COST_LIMIT = "COST_LIMIT"

META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}

WINDOWS = frozenset({"Robot.conditionHistory"})
"""Paged fields that only cut a list out of a passport already loaded: the stored data, not
the argument, decides their length, so they are estimated like any passport list (the
assumed size, or the argument when smaller)."""


class CostLimit(SchemaExtension):
    """Refuses an operation whose estimated cost exceeds `maximum` (COST_LIMIT)."""

    def __init__(
        self,
        maximum: int,
        weights: Mapping[str, int],
        list_size: int,
        slices: Mapping[str, tuple[str, int]],
    ) -> None:
        self.maximum = maximum
        self.weights = weights
        self.list_size = list_size
        self.slices = slices

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors and context.graphql_document is not None:
            try:
                cost = self.estimate(context)
            except GraphQLError as error:
                context.pre_execution_errors = [error]
            else:
                if cost > self.maximum:
                    context.pre_execution_errors = [
                        GraphQLError(
                            f"Operation cost {cost} exceeds the limit of {self.maximum}",
                            extensions={"code": COST_LIMIT, "cost": cost, "limit": self.maximum},
                        )
                    ]
        yield

    def estimate(self, context: Any) -> int:
        document = context.graphql_document
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        name = context.operation_name
        operation = next(
            (o for o in operations if name is None or (o.name and o.name.value == name)), None
        )
        root = context.schema._schema.get_root_type(operation.operation) if operation else None
        if operation is None or root is None:
            return 0
        walk = _Walk(self, fragments, context.variables or {}, context.schema._schema)
        return walk.selections(operation.selection_set, root, None)


class _Walk:
    def __init__(
        self, limit: CostLimit, fragments: dict, variables: dict[str, Any], schema: Any
    ) -> None:
        self.limit = limit
        self.fragments = fragments
        self.variables = variables
        self.schema = schema

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, page: int | None
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                total += self.selections(
                    selection.selection_set, self.narrowed(selection, parent), page
                )
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                total += self.selections(
                    fragment.selection_set, self.narrowed(fragment, parent), page
                )
        return total

    def narrowed(self, fragment: Any, parent: GraphQLNamedType) -> GraphQLNamedType:
        """The type a fragment selects on: its type condition, else the parent."""
        condition = fragment.type_condition
        return (self.schema.get_type(condition.name.value) if condition else None) or parent

    def field(self, node: FieldNode, parent: GraphQLNamedType, page: int | None) -> int:
        name = node.name.value
        if not isinstance(parent, GraphQLObjectType):
            return 0
        definition = META_FIELDS.get(name) or parent.fields.get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        coordinate = f"{parent.name}.{name}"
        weight = self.limit.weights.get(coordinate, 0 if is_leaf_type(named) else 1)
        own_page = self.page(node, coordinate, definition)
        inner = self.selections(node.selection_set, named, own_page) if node.selection_set else 0
        if is_list_type(get_nullable_type(definition.type)):
            size = own_page if own_page is not None else page
            if size is None or (coordinate in WINDOWS and size > self.limit.list_size):
                size = self.limit.list_size
            return size * (weight + inner)
        return weight + inner

    def page(self, node: FieldNode, coordinate: str, definition: Any) -> int | None:
        """The page size asked for, checked against its cap; None for unpaged fields."""
        if coordinate not in self.limit.slices:
            return None
        argument, cap = self.limit.slices[coordinate]
        value = definition.args[argument].default_value
        for arg in node.arguments or ():
            if arg.name.value != argument:
                continue
            if isinstance(arg.value, VariableNode):
                value = self.variables.get(arg.value.name.value, value)
            elif isinstance(arg.value, IntValueNode):
                value = int(arg.value.value)
            else:
                value = value_from_ast_untyped(arg.value)
        if not isinstance(value, int):
            return None
        if not 0 <= value <= cap:
            raise GraphQLError(
                f"{argument} must be between 0 and {cap}, got {value}",
                node,
                extensions={"code": "BAD_USER_INPUT"},
            )
        return value
