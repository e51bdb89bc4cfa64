"""Field-by-field difference of two canonical documents, judged against the mapping tables.

A round trip through a format may change a field only where that format's table says it
can: an UNMAPPED field comes back as its default, a LOSSY one as its normalized value.
Every other difference is unexpected, and is what a standards body needs to see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from adapters.errors import pointer
from adapters.mapping import FieldRule, Status

__all__ = ["Difference", "Table", "differences"]

Table = tuple[str, dict[str, FieldRule]]
"""A format's name and its field rules by canonical path."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One leaf that differs: where (JSON pointer), which field, the values, and the verdict."""

    location: str
    path: str
    before: Any
    after: Any
    predicted: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "predicted": self.predicted,
            "reason": self.reason,
        }


def differences(before: Any, after: Any, tables: list[Table]) -> list[Difference]:
    """Every differing leaf of two canonical plain documents, in document order.

    `tables` are the formats the round trip passed through; their rules decide which
    differences were predicted.
    """
    return [
        Difference(pointer(at), ".".join(path), b, a, *_judge(".".join(path), b, a, tables))
        for at, path, b, a in _walk(before, after, (), ())
    ]


Parts = tuple[str | int, ...]


def _walk(before: Any, after: Any, at: Parts, path: tuple[str, ...]) -> Iterator[Any]:
    if _is(dict, before, after):
        b, a = before or {}, after or {}
        for key in [*b, *(k for k in a if k not in b)]:
            yield from _walk(b.get(key), a.get(key), (*at, key), (*path, key))
    elif _is(list, before, after):
        b, a = before or [], after or []
        for i in range(max(len(b), len(a))):
            yield from _walk(_item(b, i), _item(a, i), (*at, i), path)
    elif before != after or _bool_and_number(before, after):
        yield at, path, before, after


def _is(kind: type, before: Any, after: Any) -> bool:
    """Both values are `kind`, or one is and the other is absent (None)."""
    kinds = {type(before), type(after)} - {type(None)}
    return kinds == {kind}


def _item(items: list[Any], i: int) -> Any:
    return items[i] if i < len(items) else None


def _bool_and_number(before: Any, after: Any) -> bool:
    """True and 1 compare equal in Python but are different JSON values."""
    return isinstance(before, bool) != isinstance(after, bool)


def _judge(path: str, before: Any, after: Any, tables: list[Table]) -> tuple[bool, str]:
    rules = [(name, rules.get(path)) for name, rules in tables]
    for name, rule in rules:
        if rule is not None and rule.status is Status.UNMAPPED:
            return True, f"UNMAPPED in {name}: {rule.note}"
    expected, lossy = before, []
    for name, rule in rules:
        if rule is not None and rule.status is Status.LOSSY and expected is not None:
            expected = rule.transform.normalize(expected)
            lossy.append(f"LOSSY in {name}: {rule.transform.name}: {rule.transform.loss}")
    if lossy and after == expected:
        return True, "; ".join(lossy)
    return False, "not predicted by the mapping tables"
