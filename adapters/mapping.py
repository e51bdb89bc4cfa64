"""Field rules: the single source an adapter runs on and its mapping table is printed from.

An adapter is described as a list of `FieldRule`s, one per canonical leaf path. The
translation code is compiled from the rules' transforms and the table is read off the same
rules, so the table cannot drift from what the adapter does. A transform that can change a
value says so (`loss`) and says how (`normalize`: the canonical value as it comes back
after a round trip), which is what lets a loss report name only the values that did change.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from schema.fields import leaf_paths

__all__ = [
    "SAME",
    "FieldRule",
    "MappingRow",
    "Status",
    "Transform",
    "missing_paths",
    "table",
    "unmapped",
    "values_at",
]


class Status(enum.Enum):
    """What a format keeps of a canonical field."""

    LOSSLESS = "LOSSLESS"
    LOSSY = "LOSSY"
    UNMAPPED = "UNMAPPED"


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Transform:
    """How one canonical plain value becomes a format value and back.

    `encode` and `decode` work on the canonical *plain* form (see `schema.codec`), so a
    datetime arrives as a UTC `Z` string. `loss` is None for a bijection; otherwise it says
    what is lost, and `normalize` maps a canonical value to what survives a round trip.
    """

    name: str
    encode: Callable[[Any], Any] = _same
    decode: Callable[[Any], Any] = _same
    loss: str | None = None
    normalize: Callable[[Any], Any] = _same


SAME = Transform("as is")


@dataclass(frozen=True, slots=True)
class FieldRule:
    """Where one canonical leaf lives in a format; `location` None means it has no home."""

    path: str
    location: str | None
    transform: Transform = SAME
    note: str = ""

    @property
    def status(self) -> Status:
        if self.location is None:
            return Status.UNMAPPED
        return Status.LOSSY if self.transform.loss else Status.LOSSLESS


def unmapped(path: str, reason: str) -> FieldRule:
    return FieldRule(path, None, SAME, reason)


@dataclass(frozen=True, slots=True)
class MappingRow:
    """One line of a mapping table, ready for JSON or a printed table."""

    path: str
    location: str | None
    transform: str
    status: Status
    loss: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "location": self.location,
            "transform": self.transform,
            "status": self.status.value,
            "loss": self.loss,
        }


def table(rules: Iterable[FieldRule]) -> list[MappingRow]:
    """The mapping table of an adapter, in canonical path order."""
    order = {p: i for i, p in enumerate(leaf_paths())}
    rows = [
        MappingRow(
            r.path,
            r.location,
            r.transform.name if r.location else "-",
            r.status,
            r.note or None if r.location is None else r.transform.loss,
        )
        for r in rules
    ]
    return sorted(rows, key=lambda row: order.get(row.path, len(order)))


def missing_paths(rules: Iterable[FieldRule]) -> list[str]:
    """Canonical leaf paths no rule covers; an adapter is complete when this is empty."""
    covered = {r.path for r in rules}
    return [p for p in leaf_paths() if p not in covered]


def values_at(plain: Any, path: str) -> Iterator[Any]:
    """Every value at a dot path in canonical plain data, walking into lists."""
    yield from _walk(plain, path.split("."))


def _walk(node: Any, parts: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, parts)
        return
    if not parts:
        yield node
        return
    if node is None:
        return
    yield from _walk(node.get(parts[0]), parts[1:])
