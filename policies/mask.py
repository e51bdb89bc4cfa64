"""The set of canonical field paths a principal may see in one passport.

A path is visible when its data class is granted and its parent path is
visible, so a leaf never outlives a hidden container. Masks are computed once
per set of data classes and shared; two principals with the same classes get
the very same object, which makes `mask.key` a safe cache key for anything
rendered from the view.
"""

from __future__ import annotations

import copy
from collections.abc import Container
from dataclasses import dataclass
from functools import cache
from typing import Any

from schema.fields import field_classes
from schema.passport import DataClass


@dataclass(frozen=True, slots=True)
class VisibilityMask:
    """Visible and denied canonical paths; unknown paths are denied."""

    visible: frozenset[str]
    denied: frozenset[str]
    classes: frozenset[DataClass]

    def __contains__(self, path: object) -> bool:
        return path in self.visible

    @property
    def key(self) -> str:
        """Compact identity of the view: the granted classes, sorted."""
        return ",".join(sorted(c.value for c in self.classes))


@cache
def mask_for(classes: frozenset[DataClass]) -> VisibilityMask:
    """The mask granting exactly `classes` over `schema.fields.field_classes()`."""
    visible: set[str] = set()
    denied: set[str] = set()
    for path, data_class in field_classes().items():
        parent = path.rpartition(".")[0]
        ok = data_class in classes and (not parent or parent in visible)
        (visible if ok else denied).add(path)
    return VisibilityMask(frozenset(visible), frozenset(denied), frozenset(classes))


NOTHING = mask_for(frozenset())


def redact(plain: dict[str, Any], mask: Container[str]) -> dict[str, Any]:
    """A copy of a canonical plain passport without any path the mask does not show."""
    return _redact(plain, "", mask)


def _redact(node: dict[str, Any], prefix: str, mask: Container[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = prefix + key
        if path not in mask:
            continue
        if isinstance(value, dict):
            out[key] = _redact(value, path + ".", mask)
        elif isinstance(value, list):
            out[key] = [
                _redact(v, path + ".", mask) if isinstance(v, dict) else copy.deepcopy(v)
                for v in value
            ]
        else:
            out[key] = value
    return out
