"""Jurisdiction-specific legal rules that data cannot express, as Python modules.

A policy module is anything with a `NAME`, a `VERSION` and
`restrict(ctx, classes) -> classes`. It runs after rules and agreements and
may only remove data classes, never add them, so a module cannot widen access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from schema.passport import DataClass

from ..agreements import Agreement
from ..principal import Role
from ..rules import Relationship


@dataclass(frozen=True, slots=True)
class Context:
    """What a module may consider: the request's policy attributes, not its identity."""

    role: Role
    jurisdiction: str | None
    purposes: frozenset[str]
    relationship: Relationship
    registry_jurisdiction: str
    agreements: tuple[Agreement, ...] = ()


class PolicyModule(Protocol):
    NAME: str
    VERSION: str

    def restrict(self, ctx: Context, classes: frozenset[DataClass]) -> frozenset[DataClass]: ...
