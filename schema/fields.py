"""The catalogue of canonical field paths and their data classes.

A path names a field from the passport root with dots, list items included
(`maintenance.performed_by` is the technician of every maintenance record).
Policies build visibility masks over these paths; adapters' mapping tables
and the GraphQL schema refer to the same names.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache

from .passport import DataClass, Passport


@cache
def field_classes(root: type = Passport) -> dict[str, DataClass]:
    """Every path under `root` with its data class, containers before their fields."""
    out: dict[str, DataClass] = {}
    _walk(root, "", out)
    return out


def leaf_paths(root: type = Passport) -> list[str]:
    """Paths that hold a value rather than an object or a list of objects."""
    classes = field_classes(root)
    return [p for p in classes if not any(q.startswith(p + ".") for q in classes)]


def _walk(cls: type, prefix: str, out: dict[str, DataClass]) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "data_class" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} has no data class")
        path = f"{prefix}{f.name}"
        out[path] = f.metadata["data_class"]
        inner = _element(hints[f.name])
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            _walk(inner, path + ".", out)


def _element(hint: typing.Any) -> typing.Any:
    """The dataclass inside `X`, `X | None` or `list[X]`, else the hint itself."""
    for arg in typing.get_args(hint):
        if arg is not type(None):
            return _element(arg)
    return hint
