"""A compiled plan's steps, and the straight-line Python each passport object's steps become.

A plan (`gateway.endpoint.compiled`) walks the passport depth first, one step
per response key. Walking a tuple of steps in a loop costs a dispatch on the
step's kind, an attribute read and a call per field, which on a page of full
passports (tens of thousands of fields) is most of the work. So each object's
steps are written once, when the plan is compiled, as the source of one
function: for every key in order, the mask check on its canonical path, the
attribute read, the leaf's serialisation (inlined for strings, booleans,
finite floats and 32-bit ints, which graphql-core's `serialize` returns as they are), or the
call of the nested object's own function. The source is built only from the
schema's names (attributes and paths checked to be identifiers and plain
strings) and response keys written with `repr`, never from a caller's values.

Errors are located as graphql-core locates them: a path is carried as a chain
of (parent, key) pairs and made a list only when a field is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLFloat,
    GraphQLInt,
    GraphQLString,
    SourceLocation,
)

from schema.graphql.objects import field_denied

LEAF, BRANCH, CODE, VERSION, AS_OF, CONDITION, TYPENAME = range(7)
EDGES, CURSOR, NODE, PAGE_INFO, HAS_NEXT, END_CURSOR, TOTAL = range(7, 14)
"""The connection's own fields (`robots`): each is a known field of a known type."""

Walker = Callable[[Any, Container[str], list[GraphQLError], Any], dict[str, Any]]
"""(object, mask, errors, path) -> the object's answer; refusals appended to errors."""


@dataclass(frozen=True, slots=True)
class Step:
    """One response key of a selection set and how to produce it."""

    key: str
    kind: int
    nodes: tuple[FieldNode, ...]
    locations: tuple[SourceLocation, ...]
    name: str = ""
    path: str = ""
    serialize: Callable[[Any], Any] | None = None
    is_list: bool = False
    children: tuple[Step, ...] = ()
    walk: Walker | None = None
    """BRANCH and CONDITION: the generated function of `children`."""


def located(error: GraphQLError, where: Any, path: list[str | int]) -> GraphQLError:
    """`error` located as graphql-core locates a resolver's error at that field."""
    error.__traceback__ = None
    error.nodes = list(where.nodes)
    error.locations = list(where.locations) or None
    error.path = path
    return error


def flat(chain: Any) -> list[str | int]:
    """A path chain ((parent, key) pairs ending in a list) as graphql-core's path list."""
    keys: list[str | int] = []
    while isinstance(chain, tuple):
        chain, key = chain
        keys.append(key)
    return [*chain, *reversed(keys)]


def denied(step: Step, chain: Any) -> GraphQLError:
    """The refusal of `step` under the object at `chain`."""
    return located(field_denied(step.path), step, [*flat(chain), step.key])


def _leaf(value: str, step: Step, name: str) -> str:
    """The expression serialising `value`, as the leaf type's `serialize` would."""
    if step.serialize is GraphQLString.serialize:
        return f"({value} if {value}.__class__ is str else {name}({value}))"
    if step.serialize is GraphQLBoolean.serialize:
        return f"({value} if {value}.__class__ is bool else {name}({value}))"
    if step.serialize is GraphQLFloat.serialize:
        return f"({value} if {value}.__class__ is float and isfinite({value}) else {name}({value}))"
    if step.serialize is GraphQLInt.serialize:
        return (
            f"({value} if {value}.__class__ is int and -2147483648 <= {value} <= 2147483647"
            f" else {name}({value}))"
        )
    return f"{name}({value})"


def generate(steps: tuple[Step, ...]) -> Walker:
    """One function answering `steps` over an object (LEAF, BRANCH and TYPENAME steps)."""
    names: dict[str, Any] = {"denied": denied, "isfinite": math.isfinite}
    lines = ["def walk(obj, mask, errors, path):", "    out = {}"]
    for i, step in enumerate(steps):
        key = repr(step.key)
        if step.kind == TYPENAME:
            lines.append(f"    out[{key}] = {step.name!r}")
            continue
        if step.kind not in (LEAF, BRANCH) or not step.name.isidentifier():
            raise ValueError(f"no generated code for {step.key}")
        names[f"s{i}"] = step
        lines += [
            f"    if {step.path!r} in mask:",
            f"        v = obj.{step.name}",
            "        if v is None:",
            f"            out[{key}] = None",
        ]
        if step.kind == LEAF:
            names[f"f{i}"] = step.serialize
            item = _leaf("x", step, f"f{i}") if step.is_list else _leaf("v", step, f"f{i}")
            value = f"[{item} for x in v]" if step.is_list else item
        else:
            names[f"w{i}"] = step.walk
            here = f"(path, {key})"
            value = (
                f"[w{i}(x, mask, errors, ({here}, n)) for n, x in enumerate(v)]"
                if step.is_list
                else f"w{i}(v, mask, errors, {here})"
            )
        lines += [
            "        else:",
            f"            out[{key}] = {value}",
            "    else:",
            f"        errors.append(denied(s{i}, path))",
            f"        out[{key}] = None",
        ]
    lines.append("    return out")
    exec(
        compile("\n".join(lines), f"<plan {steps[0].path if steps else ''}>", "exec"), names
    )  # source built from schema names only (module docstring)
    walk: Walker = names["walk"]
    return walk
