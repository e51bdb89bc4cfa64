"""The visibility engine: rules, agreements and modules folded into one mask.

`PolicySet.decide` runs once per (principal, passport), never per field. Its
result depends only on the principal's role, jurisdiction and purposes, the
relationship to the robot, the registry's jurisdiction and the agreements in
force, so it is cached on exactly those; the subject and token never enter the
key, and the policy version (a hash of every document and module) is part of
every decision so caches built on it cannot outlive a policy change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from schema.parties import is_party_id, manufacturer_id, same_party
from schema.passport import Passport

from .agreements import Agreement, agreements_document, load_agreements
from .mask import VisibilityMask, mask_for, redact
from .modules import Context, PolicyModule, cn, eu
from .principal import Principal
from .rules import Relationship, Rules, load_rules

__all__ = [
    "Decision",
    "PolicySet",
    "Relationship",
    "VisibilityMask",
    "is_own",
    "redact",
    "relationship_of",
]

DEMO = Path(__file__).parent / "demo"
DEFAULT_MODULES: tuple[PolicyModule, ...] = (cn, eu)


@dataclass(frozen=True, slots=True)
class Decision:
    """A principal's view of one registry's robot, and why."""

    mask: VisibilityMask
    rules: tuple[str, ...]
    agreements: tuple[str, ...]
    policy_version: str

    @property
    def agreement(self) -> str | None:
        """The agreement that widened access, if exactly one did; else the first by id."""
        return self.agreements[0] if self.agreements else None


class PolicySet:
    """Rules, agreements and modules with a content-derived `version`."""

    def __init__(
        self,
        rules: Rules,
        agreements: Sequence[Agreement] = (),
        modules: Sequence[PolicyModule] = DEFAULT_MODULES,
        cache_size: int = 4096,
    ) -> None:
        self.rules = rules
        self.agreements = tuple(agreements)
        self.modules = tuple(modules)
        self.version = _version(rules, self.agreements, self.modules)
        self._decide = lru_cache(maxsize=cache_size)(self._compute)

    @classmethod
    def load(
        cls,
        rules: str | Path | dict[str, Any],
        agreements: str | Path | dict[str, Any] | None = None,
        modules: Sequence[PolicyModule] = DEFAULT_MODULES,
    ) -> PolicySet:
        found = load_agreements(agreements) if agreements is not None else ()
        return cls(load_rules(rules), found, modules)

    @classmethod
    def demo(cls) -> PolicySet:
        """The demo policy set shipped in `policies/demo`."""
        return cls.load(DEMO / "rules.json", DEMO / "agreements.json")

    def decide(
        self,
        principal: Principal,
        relationship: Relationship,
        registry_jurisdiction: str,
        at: datetime | None = None,
    ) -> Decision:
        """The principal's view; `at` (default now) selects the agreements in force."""
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware")
        applicable = tuple(
            a for a in self.agreements if a.applies(principal, registry_jurisdiction, when)
        )
        return self._decide(
            principal.role,
            principal.jurisdiction,
            principal.purposes,
            relationship,
            registry_jurisdiction,
            applicable,
        )

    def mask(
        self,
        principal: Principal,
        relationship: Relationship,
        registry_jurisdiction: str,
        at: datetime | None = None,
    ) -> VisibilityMask:
        return self.decide(principal, relationship, registry_jurisdiction, at).mask

    def cache_info(self) -> Any:
        return self._decide.cache_info()

    def _compute(
        self,
        role: Any,
        jurisdiction: str | None,
        purposes: frozenset[str],
        relationship: Relationship,
        registry: str,
        applicable: tuple[Agreement, ...],
    ) -> Decision:
        granted, rule_ids = self.rules.grant(role, purposes, jurisdiction, relationship, registry)
        classes = granted.union(*(a.classes for a in applicable))
        ctx = Context(role, jurisdiction, purposes, relationship, registry, applicable)
        for module in self.modules:
            classes = module.restrict(ctx, classes) & classes
        widened = classes - granted
        used = tuple(sorted(a.id for a in applicable if a.classes & widened))
        return Decision(mask_for(frozenset(classes)), rule_ids, used, self.version)


def relationship_of(principal: Principal, passport: Passport) -> Relationship:
    """How the principal's organisation stands to the robot, strongest tie first.

    Decided by party identifier only (`schema.parties`): exact equality of
    the token's identifier with the one the passport records. Names are never
    compared, so a look-alike name (other case, other spaces, the same name
    of another organisation) gains nothing, and an entry that has no
    identifier yet (stored before identifiers, see `robopass registry
    identify`) relates to no one. A principal without an identifier has no
    relationship.
    """
    own = principal.organisation_id
    if principal.is_public or not is_party_id(own):
        return Relationship.NONE
    current = passport.current_owner
    if current is not None and current.owner_id == own:
        return Relationship.CURRENT_OWNER
    if manufacturer_id(passport.manufacturer) == own:
        return Relationship.MANUFACTURER
    if any(d.end is None and d.operator_id == own for d in passport.deployments):
        return Relationship.OPERATOR
    if any(o.owner_id == own for o in passport.ownership[:-1]):
        return Relationship.PAST_OWNER
    return Relationship.NONE


def is_own(principal: Principal, party_id: str | None) -> bool:
    """Whether `party_id` is the principal's own identifier, compared as relationships are."""
    return not principal.is_public and same_party(principal.organisation_id, party_id)


def _version(
    rules: Rules, agreements: tuple[Agreement, ...], modules: tuple[PolicyModule, ...]
) -> str:
    body = {
        "rules": rules.document,
        "agreements": agreements_document(agreements),
        "modules": [[m.NAME, m.VERSION] for m in modules],
    }
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
