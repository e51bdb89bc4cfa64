"""Visibility rules as data: who may read which data classes of which registry's robots.

A rule grants data classes to a combination of role, declared purpose,
requester jurisdiction and relationship to the robot. Rules only ever grant;
what no rule grants is denied, so a missing rule fails closed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema.passport import DataClass

from .documents import read_json, validate
from .errors import RulesError
from .principal import Role

SCHEMA = "rules.schema.json"
ANY_REGISTRY = "*"


class Relationship(enum.Enum):
    """How the requester stands to the robot, derived from the passport itself."""

    CURRENT_OWNER = "current_owner"
    PAST_OWNER = "past_owner"
    MANUFACTURER = "manufacturer"
    OPERATOR = "operator"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Rule:
    """One grant; a `None` selector matches anything."""

    id: str
    classes: frozenset[DataClass]
    roles: frozenset[Role] | None = None
    purposes: frozenset[str] | None = None
    jurisdictions: frozenset[str] | None = None
    relationships: frozenset[Relationship] | None = None

    def matches(
        self,
        role: Role,
        purposes: frozenset[str],
        jurisdiction: str | None,
        relationship: Relationship,
        registry: str,
    ) -> bool:
        if self.roles is not None and role not in self.roles:
            return False
        if self.purposes is not None and not self.purposes & purposes:
            return False
        if self.relationships is not None and relationship not in self.relationships:
            return False
        return self.jurisdictions is None or _jurisdiction_matches(
            self.jurisdictions, jurisdiction, registry
        )


def _jurisdiction_matches(allowed: frozenset[str], jurisdiction: str | None, home: str) -> bool:
    if jurisdiction is None:
        return False
    if jurisdiction in allowed:
        return True
    return ("home" in allowed and jurisdiction == home) or (
        "foreign" in allowed and jurisdiction != home
    )


@dataclass(frozen=True, slots=True)
class Rules:
    """A validated rules document, rules grouped by registry jurisdiction."""

    by_registry: dict[str, tuple[Rule, ...]]
    document: dict[str, Any]

    def grant(
        self,
        role: Role,
        purposes: frozenset[str],
        jurisdiction: str | None,
        relationship: Relationship,
        registry: str,
    ) -> tuple[frozenset[DataClass], tuple[str, ...]]:
        """Union of the classes of all matching rules, with the ids of those rules."""
        classes: set[DataClass] = set()
        used: list[str] = []
        for rule in self._rules_for(registry):
            if rule.matches(role, purposes, jurisdiction, relationship, registry):
                classes |= rule.classes
                used.append(rule.id)
        return frozenset(classes), tuple(used)

    def _rules_for(self, registry: str) -> Iterable[Rule]:
        yield from self.by_registry.get(registry, ())
        if registry != ANY_REGISTRY:
            yield from self.by_registry.get(ANY_REGISTRY, ())


def load_rules(source: str | Path | dict[str, Any]) -> Rules:
    """Read and validate a rules document; `RulesError` names the offending key."""
    document = read_json(source, RulesError)
    validate(document, SCHEMA, RulesError)
    by_registry: dict[str, tuple[Rule, ...]] = {}
    seen: set[str] = set()
    for registry, items in document["registries"].items():
        rules = []
        for index, item in enumerate(items):
            if item["id"] in seen:
                raise RulesError(f"registries.{registry}[{index}].id", "duplicate rule id")
            seen.add(item["id"])
            rules.append(_rule(item))
        by_registry[registry] = tuple(rules)
    return Rules(by_registry, document)


def _rule(item: dict[str, Any]) -> Rule:
    def opt(key: str, convert: Any) -> frozenset[Any] | None:
        return frozenset(convert(v) for v in item[key]) if key in item else None

    return Rule(
        id=item["id"],
        classes=frozenset(DataClass(c) for c in item["classes"]),
        roles=opt("roles", Role),
        purposes=opt("purposes", str),
        jurisdictions=opt("jurisdictions", str),
        relationships=opt("relationships", Relationship),
    )
