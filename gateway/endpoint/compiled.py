"""Compiled execution of known robot queries: strawberry's answer without its per-field cost.

Strawberry resolves every field through graphql-core and a Python resolver
(about 9 us each); a lookup of 45 fields spends most of its time there. A
query the gateway has already answered through strawberry, whose one root
field is `robot(code:, asOf:)` and whose selection stays inside the passport's
fields (`schema.graphql.objects`: the generic resolver that checks the field's
canonical path against the mask), is compiled here once into a plan: the
fields collected per selection set as graphql-core collects them (aliases and
fragments resolved), each with its attribute, its canonical path, the leaf
type's own `serialize`, and the field nodes its errors are located at.
Running a plan reads the robot exactly as the `robot` resolver does, asks the
request context for the mask (`RequestContext.view`, so audit records note the
same paths), and walks the passport depth first in field order, the order
graphql-core completes fields in, so data and errors come out the same.

A plan holds no caller's data: the mask is asked for on every request and
every path is checked against it, so a plan cannot carry one view to another.

A `robots` page is compiled the same way: its connection's known fields
(`edges { cursor node }`, `pageInfo { hasNextPage endCursor }`, `totalCount`,
`__typename`), each node as a single robot, the count read beside the page as
the resolver reads it, and only when the plan has a `totalCount` step (a plan has
no directives, so its steps are exactly what graphql-core would complete). Its
request errors (a page size out of range, a filter the caller may not use, a
cursor it was not given), a page size given by a variable, and a filter on a
field the compiler does not know are strawberry's.

What is not covered falls back to strawberry, which stays the reference:
documents with directives, several root fields, any resolver
other than the passport's generic one and `code`, `version`, `asOf` and
`condition` (history, export, integrity, condition history, code segments),
mutations and subscriptions, variables that do not coerce, an `asOf` without
an offset, and any unexpected error reading the robot. The differential test
(tests/gateway/endpoint/test_compiled.py) holds the two executors to
byte-identical answers. Each passport object's steps run as generated
straight-line Python (`gateway.endpoint.steps`).

The module is over 500 lines because compiling and running are one contract
(a step's kind is made by one and read by the other); the generated code and
the steps' types are apart.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Container
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    SourceLocation,
    VariableNode,
    parse,
    visit,
)
from graphql.error import GraphQLSyntaxError
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import Visitor
from strawberry import Schema
from strawberry.types import ExecutionResult

from schema.graphql import objects, robot
from schema.graphql.objects import field_denied
from schema.graphql.pages import Total
from schema.graphql.query import MAX_PAGE, denied_message
from schema.graphql.registries import coded, registry_unavailable
from schema.graphql.robot import robot_not_found
from schema.source import RobotFilter

from .steps import (
    AS_OF,
    BRANCH,
    CODE,
    CONDITION,
    CURSOR,
    EDGES,
    END_CURSOR,
    HAS_NEXT,
    LEAF,
    NODE,
    PAGE_INFO,
    TOTAL,
    TYPENAME,
    VERSION,
    Step,
    generate,
    located,
)

MAX_PLANS = 512
"""Documents remembered (compiled or known not to compile), as the parse cache keeps."""

CONNECTION = {"edges": EDGES, "pageInfo": PAGE_INFO, "totalCount": TOTAL}
EDGE = {"cursor": CURSOR, "node": NODE}
PAGE = {"hasNextPage": HAS_NEXT, "endCursor": END_CURSOR}
FILTER = {
    "manufacturer": "manufacturer",
    "category": "category",
    "status": "status",
    "owner": "owner",
    "ownerId": "owner_id",
    "registry": "registry",
}
"""`RobotFilterInput`'s fields as the source's `RobotFilter` names them: a filter set on any
other field (one added to the schema later) is left to strawberry."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled `robot` or `robots` query: its root field and the steps under it."""

    key: str
    listed: bool
    """`robots`: the children are the connection's steps, a `node`'s those of a robot."""
    nodes: tuple[FieldNode, ...]
    locations: tuple[SourceLocation, ...]
    field: GraphQLField
    operation: OperationDefinitionNode
    children: tuple[Step, ...]


class _NotCovered(Exception):
    """The document uses something the compiler leaves to strawberry."""


class _Directives(Visitor):
    found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        self.found = True


class Plans:
    """Plans by (document, operation name): None for a document strawberry keeps."""

    def __init__(self, schema: Schema, size: int = MAX_PLANS) -> None:
        self.schema = schema
        self.size = size
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()
        self.answered = 0
        """Requests a plan answered (not declined to strawberry)."""

    def get(self, query: str, name: str | None) -> tuple[bool, Plan | None]:
        """(known, its plan): unknown documents are answered by strawberry first."""
        key = (query, name)
        if key not in self._plans:
            return False, None
        self._plans.move_to_end(key)
        return True, self._plans[key]

    def learn(self, query: str, name: str | None) -> None:
        """Compile a document strawberry has answered without a request error."""
        self._plans[(query, name)] = compile_plan(self.schema, query, name)
        while len(self._plans) > self.size:
            self._plans.popitem(last=False)


def compile_plan(schema: Schema, query: str, operation_name: str | None) -> Plan | None:
    """The plan of `query`'s operation, or None when strawberry must answer it."""
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return None
    finder = _Directives()
    visit(document, finder)
    if finder.found:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name is None:
        operation = operations[0] if len(operations) == 1 else None
    else:
        operation = next((o for o in operations if o.name and o.name.value == operation_name), None)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    core = schema._schema
    query_type = core.query_type
    assert query_type is not None
    roots = _collect(fragments, query_type, [operation.selection_set])
    if len(roots) != 1:
        return None
    ((key, nodes),) = roots.items()
    name = nodes[0].name.value
    if name not in ("robot", "robots"):
        return None
    field = query_type.fields[name]
    try:
        if name == "robot":
            children = _compile(schema, core, fragments, _object(field.type), nodes, "", True)
        else:
            children = _connection(schema, core, fragments, field, nodes)
    except _NotCovered:
        return None
    return Plan(key, name == "robots", nodes, _locations(nodes), field, operation, children)


def _connection(
    schema: Schema,
    core: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    field: GraphQLField,
    nodes: tuple[FieldNode, ...],
) -> tuple[Step, ...]:
    """The steps of a `robots` connection; the robots' own as a single `robot`'s.

    Its page size must be written in the document: the cost limit, checked when
    strawberry answered it, reads a variable's value, which the next request may
    change. Arguments the compiler does not know are left to strawberry.
    """
    if set(field.args) != {"filter", "first", "after"}:
        raise _NotCovered("robots")
    for node in nodes:
        given = {a.name.value: a.value for a in node.arguments or ()}
        if isinstance(given.get("first"), VariableNode):
            raise _NotCovered("first")
    connection = _object(field.type)
    edge = _object(connection.fields["edges"].type, listed=True)
    robot_type = _object(edge.fields["node"].type)

    def fixed(
        parent: GraphQLObjectType, kinds: dict[str, int], found: tuple[FieldNode, ...]
    ) -> tuple[Step, ...]:
        grouped = _collect(fragments, parent, [n.selection_set for n in found if n.selection_set])
        steps = []
        for key, under in grouped.items():
            name, here = under[0].name.value, _locations(under)
            kind = TYPENAME if name == "__typename" else kinds.get(name)
            if kind is None:
                raise _NotCovered(f"{parent.name}.{name}")
            if kind == TYPENAME:
                steps.append(Step(key, kind, under, here, name=parent.name))
            elif kind == EDGES:
                steps.append(Step(key, kind, under, here, children=fixed(edge, EDGE, under)))
            elif kind == PAGE_INFO:
                inner = _object(parent.fields[name].type)
                steps.append(Step(key, kind, under, here, children=fixed(inner, PAGE, under)))
            elif kind == NODE:
                robot = _compile(schema, core, fragments, robot_type, under, "", root=True)
                steps.append(Step(key, kind, under, here, children=robot))
            else:
                serialize = _leaf(parent.fields[name].type)
                steps.append(Step(key, kind, under, here, serialize=serialize))
        return tuple(steps)

    return fixed(connection, CONNECTION, nodes)


def _compile(
    schema: Schema,
    core: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    parent: GraphQLObjectType,
    nodes: tuple[FieldNode, ...],
    prefix: str,
    root: bool = False,
) -> tuple[Step, ...]:
    definition = schema.get_type_by_name(parent.name)
    fields = {schema.config.name_converter.get_graphql_name(f): f for f in definition.fields}  # type: ignore[union-attr]  # an object type's definition
    grouped = _collect(fragments, parent, [n.selection_set for n in nodes if n.selection_set])
    steps = []
    for key, found in grouped.items():
        name = found[0].name.value
        here = _locations(found)
        if name == "__typename":  # graphql-core answers it with the object type's name
            steps.append(Step(key, TYPENAME, found, here, name=parent.name))
            continue
        if name not in fields:
            raise _NotCovered(name)
        resolver = fields[name].base_resolver
        func: Any = resolver.wrapped_func if resolver is not None else None
        graphql_type = parent.fields[name].type
        if root and func is robot.robot_code:
            steps.append(Step(key, CODE, found, here, serialize=_leaf(graphql_type)))
        elif root and func is robot.robot_version:
            steps.append(Step(key, VERSION, found, here, serialize=_leaf(graphql_type)))
        elif root and func is robot.robot_as_of:
            steps.append(Step(key, AS_OF, found, here, serialize=_leaf(graphql_type)))
        elif root and func is robot.latest_condition:
            inner = _object(graphql_type)
            children = _compile(schema, core, fragments, inner, found, "conditions.")
            steps.append(
                Step(key, CONDITION, found, here, children=children, walk=generate(children))
            )
        elif func is not None and _is_generic(func):
            closure = inspect.getclosurevars(func).nonlocals
            attribute, path = closure["name"], closure["path"]
            if path != prefix + attribute:
                raise _NotCovered(path)
            unwrapped, is_list = _unwrap(graphql_type)
            if isinstance(unwrapped, GraphQLObjectType):
                children = _compile(schema, core, fragments, unwrapped, found, path + ".")
                walk = generate(children)
                steps.append(
                    Step(key, BRANCH, found, here, attribute, path, None, is_list, children, walk)
                )
            else:
                serialize = unwrapped.serialize
                steps.append(Step(key, LEAF, found, here, attribute, path, serialize, is_list))
        else:
            raise _NotCovered(name)
    return tuple(steps)


def _is_generic(func: Callable[..., Any]) -> bool:
    """The passport's generic resolver (`objects._resolver`): path check, attribute, wrap."""
    return func.__module__ == objects.__name__ and func.__qualname__ == "_resolver.<locals>.resolve"


def _collect(
    fragments: dict[str, FragmentDefinitionNode],
    parent: GraphQLObjectType,
    selection_sets: list[SelectionSetNode],
) -> dict[str, tuple[FieldNode, ...]]:
    """Field nodes by response key, in graphql-core's order (no directives here)."""
    grouped: dict[str, list[FieldNode]] = {}
    visited: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or condition.name.value == parent.name:
                    walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = fragments[name]
                if fragment.type_condition.name.value == parent.name:
                    walk(fragment.selection_set)

    for selection_set in selection_sets:
        walk(selection_set)
    return {k: tuple(v) for k, v in grouped.items()}


def _unwrap(graphql_type: Any) -> tuple[Any, bool]:
    if isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    if isinstance(graphql_type, GraphQLList):
        item = graphql_type.of_type
        return (item.of_type if isinstance(item, GraphQLNonNull) else item), True
    return graphql_type, False


def _object(graphql_type: Any, listed: bool = False) -> GraphQLObjectType:
    unwrapped, is_list = _unwrap(graphql_type)
    if is_list != listed or not isinstance(unwrapped, GraphQLObjectType):
        raise _NotCovered(str(graphql_type))
    return unwrapped


def _leaf(graphql_type: Any) -> Callable[[Any], Any]:
    unwrapped, is_list = _unwrap(graphql_type)
    if is_list or isinstance(unwrapped, GraphQLObjectType):
        raise _NotCovered(str(graphql_type))
    serialize: Callable[[Any], Any] = unwrapped.serialize
    return serialize


def _locations(nodes: tuple[FieldNode, ...]) -> tuple[SourceLocation, ...]:
    return tuple(n.loc.source.get_location(n.loc.start) for n in nodes if n.loc)


async def run_plan(
    plan: Plan, schema: Schema, context: Any, variables: dict[str, Any] | None
) -> ExecutionResult | None:
    """Strawberry's result for `plan` with `variables`; None to let strawberry answer."""
    core = schema._schema
    coerced = get_variable_values(core, plan.operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):  # the variables' own errors: strawberry words them
        return None
    try:
        arguments = get_argument_values(plan.field, plan.nodes[0], coerced)
    except GraphQLError:
        return None
    if plan.listed:
        return await _robots(plan, context, arguments)
    code, as_of = arguments["code"], arguments.get("asOf")
    if as_of is not None and as_of.tzinfo is None:
        return None
    try:
        record = await context.source.robot(code, as_of)
    except Exception as exc:  # a coded error is an answer, the rest is strawberry's
        error = coded(exc)
        if not (isinstance(error, GraphQLError) and error.extensions):
            return None
        return ExecutionResult(data={plan.key: None}, errors=[located(error, plan, [plan.key])])
    if record is None:
        error = robot_not_found(code, " at that time" if as_of else "")
        return ExecutionResult(data={plan.key: None}, errors=[located(error, plan, [plan.key])])
    mask = context.view(record)
    errors: list[GraphQLError] = []
    data = {plan.key: _robot(plan.children, record, mask, errors, [plan.key])}
    for error in errors:  # worded once, as strawberry's executor words them
        error.message = denied_message(error, context)
    return ExecutionResult(data=data, errors=errors or None)


async def _robots(plan: Plan, context: Any, arguments: dict[str, Any]) -> ExecutionResult | None:
    """A page of robots as `Query.robots` answers it; None where strawberry must say why not.

    Its request errors (a page size out of range, a filter the caller may not use, a
    cursor it was not given) null the whole answer and are rare: strawberry words
    them. Every robot of the page is masked, as the resolver masks it, whether or
    not `edges` is asked for, so the audit notes the same views.
    """
    first, after, given = arguments["first"], arguments.get("after"), arguments.get("filter")
    if not 0 <= first <= MAX_PAGE:
        return None
    given = {k: v for k, v in (given or {}).items() if v is not None}
    if not given.keys() <= FILTER.keys():
        return None
    where = RobotFilter(**{FILTER[k]: v for k, v in given.items()})
    if where.owner is not None and not context.may_filter_by_owner_name():
        return None
    if where.owner_id is not None and not context.may_filter_by_owner(where.owner_id):
        return None
    source = context.source
    counting = any(step.kind == TOTAL for step in plan.children)  # as the resolver's `selects`
    total = Total(partial(source.count, where), now=counting)
    try:
        page = await source.robots(where, first, after)
    except Exception:
        total.cancel()
        return None
    except BaseException:
        total.cancel()
        raise
    rows = [
        (cursor, record, context.view(record))
        for cursor, record in zip(page.cursors, page.items, strict=True)
    ]
    errors: list[GraphQLError] = []
    counts: list[tuple[Step, dict[str, Any]]] = []
    out: dict[str, Any] = {}
    for step in plan.children:
        if step.kind == TYPENAME:
            out[step.key] = step.name
        elif step.kind == EDGES:
            here = [plan.key, step.key]
            out[step.key] = [
                _edge(step.children, row, errors, [*here, i]) for i, row in enumerate(rows)
            ]
        elif step.kind == PAGE_INFO:
            out[step.key] = _page_info(step.children, page.has_next_page, page.end_cursor)
        else:  # TOTAL, awaited after the rest as graphql-core awaits an async field
            out[step.key] = None
            counts.append((step, out))
    for error in errors:  # worded once, as strawberry's executor words them
        error.message = denied_message(error, context)
    for step, into in counts:
        try:
            into[step.key] = step.serialize(await total.value())  # type: ignore[misc]
        except Exception as exc:
            failure = coded(exc)
            if not (isinstance(failure, GraphQLError) and failure.extensions):
                return None
            errors.append(located(failure, step, [plan.key, step.key]))
    errors += [registry_unavailable(e, [plan.key]) for e in page.unavailable]
    return ExecutionResult(data={plan.key: out}, errors=errors or None)


def _edge(steps: tuple[Step, ...], row: tuple, errors: list, path: list) -> dict[str, Any]:
    cursor, record, mask = row
    out: dict[str, Any] = {}
    for step in steps:
        if step.kind == TYPENAME:
            out[step.key] = step.name
        elif step.kind == CURSOR:
            out[step.key] = step.serialize(cursor)  # type: ignore[misc]
        else:
            out[step.key] = _robot(step.children, record, mask, errors, [*path, step.key])
    return out


def _page_info(steps: tuple[Step, ...], has_next: bool, end: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for step in steps:
        if step.kind == TYPENAME:
            out[step.key] = step.name
        elif step.kind == HAS_NEXT:
            out[step.key] = step.serialize(has_next)  # type: ignore[misc]
        else:
            out[step.key] = None if end is None else step.serialize(end)  # type: ignore[misc]
    return out


def _robot(
    steps: tuple[Step, ...], record: Any, mask: Container[str], errors: list, path: list
) -> dict[str, Any]:
    passport = record.passport
    out: dict[str, Any] = {}
    for step in steps:
        kind = step.kind
        if kind == CODE:
            out[step.key] = step.serialize(passport.identity.code)  # type: ignore[misc]
        elif kind == VERSION:
            out[step.key] = step.serialize(record.head.sequence)  # type: ignore[misc]
        elif kind == AS_OF:
            at = record.as_of
            out[step.key] = None if at is None else step.serialize(at)  # type: ignore[misc]
        elif kind == TYPENAME:
            out[step.key] = step.name
        elif kind == CONDITION:
            latest = passport.condition
            if latest is None:
                out[step.key] = None
            elif "conditions" not in mask:
                errors.append(located(field_denied("conditions"), step, [*path, step.key]))
                out[step.key] = None
            else:
                out[step.key] = step.walk(latest, mask, errors, (path, step.key))  # type: ignore[misc]
        else:
            out[step.key] = _field(step, passport, mask, errors, path)
    return out


def _field(step: Step, obj: Any, mask: Container[str], errors: list, path: list) -> Any:
    if step.kind == TYPENAME:
        return step.name
    if step.path not in mask:
        errors.append(located(field_denied(step.path), step, [*path, step.key]))
        return None
    value = getattr(obj, step.name)
    if value is None:
        return None
    if step.kind == LEAF:
        serialize = step.serialize
        assert serialize is not None
        return [serialize(v) for v in value] if step.is_list else serialize(value)
    walk = step.walk
    assert walk is not None
    here = (path, step.key)
    if step.is_list:
        return [walk(v, mask, errors, (here, i)) for i, v in enumerate(value)]
    return walk(value, mask, errors, here)
