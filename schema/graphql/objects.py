"""GraphQL object types derived from the passport dataclasses.

One source of truth: each domain dataclass becomes a strawberry type with the
same fields, descriptions from the field metadata, camelCase names. Every
field resolves through a `Node` (the domain object plus the visibility mask
of the robot it belongs to), so a field's canonical path is checked against
a set once the mask exists, never through a permission call per field.

Passport fields are nullable in GraphQL: a field the caller may not see
resolves to null with an error, without nulling its parent.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Container
from datetime import date, datetime
from functools import cache
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.federation.schema_directives import Shareable

DENIED_CODE = "UNAUTHORIZED_FIELD_OR_TYPE"


class Everything:
    """The mask that hides nothing: the view of a caller no policy restricts."""

    def __contains__(self, path: object) -> bool:
        return True


EVERYTHING: Container[str] = Everything()


class RecordingView:
    """A robot's mask that notes each path a resolver checks: what was served or denied.

    Resolvers check `path in mask` anyway, so the audit trail of a request costs
    one set insertion per resolved field and no second walk of the selection.
    """

    __slots__ = ("denied", "served", "visible")

    def __init__(self, visible: Container[str]) -> None:
        self.visible = visible
        self.served: set[str] = set()
        self.denied: set[str] = set()

    def __contains__(self, path: object) -> bool:
        if path in self.visible:
            self.served.add(path)  # type: ignore[arg-type]  # resolvers ask field paths (str) only
            return True
        self.denied.add(path)  # type: ignore[arg-type]  # as above
        return False


def first_hidden(mask: Container[str], paths: tuple[str, ...]) -> str | None:
    """The first of `paths` the mask hides; None when all are visible.

    For content that discloses several paths at once: they are recorded as
    served together, or denied together when any one is hidden, since the
    content is then withheld whole.
    """
    quiet = mask.visible if isinstance(mask, RecordingView) else mask
    hidden = next((p for p in paths if p not in quiet), None)
    if isinstance(mask, RecordingView):
        (mask.served if hidden is None else mask.denied).update(paths)
    return hidden


@dataclasses.dataclass(slots=True)
class Node:
    """A domain object on its way through GraphQL, with its robot's mask."""

    obj: Any
    mask: Container[str]


def field_denied(path: str) -> GraphQLError:
    return GraphQLError(
        f"Unauthorized field: {path}",
        extensions={"code": DENIED_CODE, "field": path},
    )


def graphql_enum(cls: type[enum.Enum]) -> Any:
    """Register a domain enum with strawberry once, under its own name."""
    if not hasattr(cls, "_enum_definition"):
        strawberry.enum(cls, description=(cls.__doc__ or "").strip() or None)
    return cls


def object_type(
    cls: type,
    prefix: str,
    name: str | None = None,
    exclude: tuple[str, ...] = (),
    shareable: bool = False,
) -> type:
    """The strawberry type of dataclass `cls` found at canonical `prefix` (e.g. `maintenance.`).

    `shareable` marks it and every type under it `@shareable`, for a federation
    subgraph: each registry node resolves the same value types. One class per
    distinct argument set, however the arguments are spelled, so a schema never
    meets two types of one name.
    """
    return _object_type(cls, prefix, name, exclude, shareable)


@cache
def _object_type(
    cls: type, prefix: str, name: str | None, exclude: tuple[str, ...], shareable: bool
) -> type:
    hints = typing.get_type_hints(cls)
    namespace: dict[str, Any] = {"__annotations__": {}}
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        path = prefix + f.name
        gql_type, wrap = _convert(hints[f.name], path + ".", shareable)
        namespace["__annotations__"][f.name] = gql_type | None
        namespace[f.name] = strawberry.field(
            resolver=_resolver(f.name, path, wrap, gql_type | None),
            description=f.metadata["doc"],
        )
    new = type(name or cls.__name__, (), namespace)
    return strawberry.type(
        new,
        description=(cls.__doc__ or "").strip() or None,
        directives=[Shareable()] if shareable else (),
    )


def _convert(
    hint: Any, prefix: str, shareable: bool
) -> tuple[Any, Callable[[Any, Container[str]], Any]]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _convert(next(a for a in args if a is not type(None)), prefix, shareable)
    if origin is list:
        item_type, item_wrap = _convert(args[0], prefix, shareable)
        if item_wrap is _plain:
            return types.GenericAlias(list, (item_type,)), _plain
        return types.GenericAlias(list, (item_type,)), lambda v, m: [item_wrap(x, m) for x in v]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return object_type(hint, prefix, shareable=shareable), lambda v, m: Node(v, m)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return graphql_enum(hint), _plain
    if hint in (str, int, float, bool, datetime, date):
        return hint, _plain
    raise TypeError(f"no GraphQL type for {hint!r}")


def _plain(value: Any, mask: Container[str]) -> Any:
    return value


def _resolver(name: str, path: str, wrap: Callable[..., Any], annotation: Any) -> Any:
    def resolve(root: strawberry.Parent[Node]) -> Any:
        if path not in root.mask:
            raise field_denied(path)
        value = getattr(root.obj, name)
        return None if value is None else wrap(value, root.mask)

    resolve.__name__ = f"resolve_{name}"
    resolve.__annotations__ = {"root": strawberry.Parent[Node], "return": annotation or Any}
    return resolve
