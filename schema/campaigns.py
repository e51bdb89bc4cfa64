"""Campaigns: recalls, mandated updates and end-of-life obligations over a fleet.

A campaign is one authority's (or one manufacturer's) act that applies to many
robots at once. It names its robots by a **selector**, and the selector speaks
the robot code's own segments (schema/code.py, RPC-29: manufacturer, model,
production date, plant or line, sequence), so "the robots of line 3 of maker
H7K2 built in March 2026" is exact without reading a passport. Two criteria do
need the passport: firmware below a version and the country of the current
owner. An empty selector would hit the whole fleet; it is refused unless the
issuer says `all: true`.

Everything here is pure: checking a campaign, matching one robot, and a
robot's state under a campaign. The store keeps the campaigns and the per-robot
rows (gateway/store/campaigns.py); the policies say who may issue what
(policies/campaigns.py).

States: a robot is PENDING until remedied; REMEDIED by a remedy event on a
recall, automatically for a mandated update once its firmware reaches the
minimum version, and by a disposal record (scrapped at a facility) for an
end-of-life obligation; EXEMPTED with a reason; OVERDUE is PENDING after the
deadline, computed when asked, so no job has to flip rows at midnight.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from .code import SAFE, CodeProfile, RobotCode, RobotCodeError, is_country
from .codec import to_plain
from .events import EventType, canonical_json
from .parties import PARTY_ID_SYNTAX, is_party_id, manufacturer_id
from .passport import MandatedUpdate, Passport, Recall, RobotStatus, Severity
from .writes import WriteRejected


class CampaignKind(enum.Enum):
    """What a campaign obliges: a recall, a software update, disposal at end of life."""

    RECALL = "RECALL"
    MANDATED_UPDATE = "MANDATED_UPDATE"
    END_OF_LIFE = "END_OF_LIFE"


class RobotState(enum.Enum):
    """Where one robot stands under a campaign."""

    PENDING = "PENDING"
    REMEDIED = "REMEDIED"
    OVERDUE = "OVERDUE"
    EXEMPTED = "EXEMPTED"


STORED_STATES = (RobotState.PENDING, RobotState.REMEDIED, RobotState.EXEMPTED)
"""What a per-robot row holds; OVERDUE is PENDING read after the deadline."""

ID = re.compile(r"^[A-Z0-9][A-Z0-9._-]{2,63}$")
_SEGMENT = re.compile(f"^[{SAFE}]+$")


@dataclass(frozen=True, slots=True)
class Selector:
    """Which robots a campaign applies to; every criterion set must hold (AND).

    Code segments are RPC-29's (docs/robot-code.md): `manufacturer_code` is
    positions 3-6, `model_code` 7-12, the production date 13-18, `plant` 19,
    the sequence 20-28 (compared as text: SAFE is in ASCII order). A robot
    whose code is not RPC-29 matches no criterion beyond country, maker and
    model. `manufacturer_id` is the maker's party identifier (schema/parties.py),
    `owner_countries` the current owner's jurisdiction. `jurisdiction` reaches
    robots registered in that country (the code's first two letters) or owned
    there now: the policies set it to an authority's own country.
    """

    all: bool = False
    registry_country: str | None = None
    manufacturer_id: str | None = None
    jurisdiction: str | None = None
    manufacturer_code: str | None = None
    model_code: str | None = None
    produced_from: date | None = None
    produced_until: date | None = None
    plant: str | None = None
    sequence_from: str | None = None
    sequence_until: str | None = None
    firmware_below: str | None = None
    owner_countries: list[str] = field(default_factory=list)

    def criteria(self) -> dict[str, Any]:
        """The criteria that are set, by field name."""
        plain = to_plain(self)
        plain.pop("all")
        return {k: v for k, v in plain.items() if v not in (None, [])}


@dataclass(frozen=True, slots=True)
class RecallTerms:
    hazard: str
    severity: Severity
    remedy: str


@dataclass(frozen=True, slots=True)
class MandateTerms:
    minimum_firmware: str


@dataclass(frozen=True, slots=True)
class DisposalTerms:
    requirement: str


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issued the campaign, as the policies saw them when it was accepted."""

    organisation_id: str
    role: str
    jurisdiction: str


@dataclass(frozen=True, slots=True)
class Campaign:
    """One campaign as stored; `id` is the issuer's reference and its idempotency key."""

    id: str
    kind: CampaignKind
    issuer: Issuer
    legal_basis: str
    title: str
    issued_at: datetime
    selector: Selector
    deadline: date | None = None
    recall: RecallTerms | None = None
    mandate: MandateTerms | None = None
    disposal: DisposalTerms | None = None

    def digest(self) -> str:
        """SHA-256 of the canonical form: tells a retry from another campaign under one id."""
        return hashlib.sha256(canonical_json(to_plain(self))).hexdigest()

    def deadline_passed(self, now: datetime) -> bool:
        return self.deadline is not None and now >= end_of(self.deadline)


def end_of(day: date) -> datetime:
    """A deadline is the whole of its day in UTC: overdue from the next midnight."""
    return datetime.combine(day, time.max, UTC)


def _bad(rule: str, field_: str, message: str) -> WriteRejected:
    return WriteRejected(rule, field_, message)


def check_campaign(campaign: Campaign, now: datetime) -> None:
    """Raise `WriteRejected` (rule, input field) unless the campaign can be issued."""
    if not ID.fullmatch(campaign.id):
        raise _bad("campaign.id", "id", "3 to 64 of A-Z, 0-9, '.', '_', '-', starting alnum")
    for name in ("legal_basis", "title"):
        if not getattr(campaign, name).strip():
            raise _bad("required", _camel(name), "must not be empty")
    check_selector(campaign.selector)
    terms = {
        CampaignKind.RECALL: ("recall", campaign.recall),
        CampaignKind.MANDATED_UPDATE: ("mandate", campaign.mandate),
        CampaignKind.END_OF_LIFE: ("disposal", campaign.disposal),
    }
    name, body = terms[campaign.kind]
    if body is None:
        raise _bad("campaign.terms", name, f"a {campaign.kind.value} campaign needs {name} terms")
    for other, (other_name, other_body) in terms.items():
        if other is not campaign.kind and other_body is not None:
            raise _bad("campaign.terms", other_name, f"not part of a {campaign.kind.value}")
    if campaign.recall is not None:
        for part in ("hazard", "remedy"):
            if not getattr(campaign.recall, part).strip():
                raise _bad("required", f"recall.{part}", "must not be empty")
    if campaign.mandate is not None and not _version(campaign.mandate.minimum_firmware):
        raise _bad("version", "mandate.minimumFirmware", "must not be empty")
    if campaign.kind is not CampaignKind.RECALL and campaign.deadline is None:
        raise _bad("required", "deadline", f"a {campaign.kind.value} needs a deadline")
    if campaign.deadline is not None and end_of(campaign.deadline) < now:
        raise _bad(
            "deadline.past",
            "deadline",
            f"{campaign.deadline.isoformat()} has already passed: give today (UTC) or a later day",
        )


def check_selector(s: Selector) -> None:
    criteria = s.criteria()
    if not criteria and not s.all:
        raise _bad(
            "selector.empty",
            "selector",
            "an empty selector would reach the whole fleet: name criteria or set all: true",
        )
    if criteria and s.all:
        raise _bad("selector.all", "selector.all", "all: true takes no other criteria")
    if s.registry_country is not None and not is_country(s.registry_country):
        raise _bad("country", "selector.registryCountry", "an ISO 3166-1 alpha-2 code")
    if s.jurisdiction is not None and not is_country(s.jurisdiction):
        raise _bad("country", "selector.jurisdiction", "an ISO 3166-1 alpha-2 code")
    if s.manufacturer_id is not None and not is_party_id(s.manufacturer_id):
        raise _bad("party.id", "selector.manufacturerId", f"must be {PARTY_ID_SYNTAX}")
    for i, country in enumerate(s.owner_countries):
        if not is_country(country):
            raise _bad("country", f"selector.ownerCountries[{i}]", "an ISO 3166-1 alpha-2 code")
    for name, length in (
        ("manufacturer_code", 4),
        ("model_code", 6),
        ("plant", 1),
        ("sequence_from", 9),
        ("sequence_until", 9),
    ):
        value = getattr(s, name)
        if value is not None and (len(value) != length or not _SEGMENT.fullmatch(value)):
            raise _bad("code.segment", f"selector.{_camel(name)}", f"{length} characters of {SAFE}")
    for low, high in (("produced_from", "produced_until"), ("sequence_from", "sequence_until")):
        a, b = getattr(s, low), getattr(s, high)
        if a is not None and b is not None and a > b:
            raise _bad("range.order", f"selector.{_camel(low)}", f"is after {_camel(high)}")
    if s.firmware_below is not None and not _version(s.firmware_below):
        raise _bad("version", "selector.firmwareBelow", "must not be empty")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def code_matches(s: Selector, code: str) -> bool:
    """The criteria a code alone decides; cheap, so a fan-out runs it before decoding."""
    if s.registry_country is not None and code[:2] != s.registry_country:
        return False
    if s.manufacturer_code is not None and code[2:6] != s.manufacturer_code:
        return False
    if s.model_code is not None and code[6:12] != s.model_code:
        return False
    deep = (s.produced_from, s.produced_until, s.plant, s.sequence_from, s.sequence_until)
    if all(v is None for v in deep):
        return True
    try:
        parsed = RobotCode(code, CodeProfile.RPC29)
    except RobotCodeError:
        return False
    made = parsed.production_date
    sequence = parsed.sequence or ""
    return not (
        (s.produced_from is not None and (made is None or made < s.produced_from))
        or (s.produced_until is not None and (made is None or made > s.produced_until))
        or (s.plant is not None and parsed.plant != s.plant)
        or (s.sequence_from is not None and sequence < s.sequence_from)
        or (s.sequence_until is not None and sequence > s.sequence_until)
    )


def applies(campaign: Campaign, passport: Passport) -> bool:
    """Whether the campaign reaches this robot as it stands.

    Recalls and mandates reach robots in service (a robot that left service
    takes no more events); an end-of-life obligation reaches robots that have
    left service.
    """
    s = campaign.selector
    if not code_matches(s, passport.code):
        return False
    ended = passport.identity.status in (RobotStatus.DECOMMISSIONED, RobotStatus.SCRAPPED)
    if ended != (campaign.kind is CampaignKind.END_OF_LIFE):
        return False
    if (
        s.manufacturer_id is not None
        and manufacturer_id(passport.manufacturer) != s.manufacturer_id
    ):
        return False
    if s.firmware_below is not None and not version_below(
        passport.software.firmware_version, s.firmware_below
    ):
        return False
    owner = passport.current_owner
    country = owner.jurisdiction if owner is not None else None
    if s.owner_countries and country not in s.owner_countries:
        return False
    return s.jurisdiction is None or s.jurisdiction in (passport.code[:2], country)


def _version(text: str) -> tuple[tuple[int, int | str], ...]:
    """A version as comparable parts: numbers by value, other runs by text (`1.10` > `1.9`)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|[A-Za-z]+", text))


def version_below(version: str, bound: str) -> bool:
    return _version(version) < _version(bound)


def state_of(campaign: Campaign, passport: Passport) -> RobotState:
    """The stored state a passport puts the robot in (never OVERDUE, never EXEMPTED)."""
    if campaign.kind is CampaignKind.RECALL:
        for recall in passport.compliance.recalls:
            if recall.reference == campaign.id and recall.remedied_at is not None:
                return RobotState.REMEDIED
        return RobotState.PENDING
    if campaign.kind is CampaignKind.MANDATED_UPDATE:
        assert campaign.mandate is not None
        firmware = passport.software.firmware_version
        if not version_below(firmware, campaign.mandate.minimum_firmware):
            return RobotState.REMEDIED
        return RobotState.PENDING
    eol = passport.compliance.end_of_life
    if eol is not None and eol.disposition is RobotStatus.SCRAPPED and eol.facility:
        return RobotState.REMEDIED
    return RobotState.PENDING


def shown_state(campaign: Campaign, stored: RobotState, now: datetime) -> RobotState:
    """The state as reported at `now`: PENDING past the deadline is OVERDUE."""
    if stored is RobotState.PENDING and campaign.deadline_passed(now):
        return RobotState.OVERDUE
    return stored


def campaign_event(campaign: Campaign) -> tuple[EventType, Any] | None:
    """The chained event a campaign appends to each robot it reaches, if any.

    An end-of-life obligation appends none: it reaches robots that left
    service, whose logs take no more events; its state follows their disposal.
    """
    if campaign.kind is CampaignKind.RECALL:
        assert campaign.recall is not None
        r = campaign.recall
        text = f"[{r.severity.value}] {r.hazard} Remedy: {r.remedy} ({campaign.legal_basis})"
        return EventType.RECALL_ISSUED, Recall(campaign.id, campaign.issued_at, text, None)
    if campaign.kind is CampaignKind.MANDATED_UPDATE:
        assert campaign.mandate is not None and campaign.deadline is not None
        body = MandatedUpdate(campaign.id, campaign.mandate.minimum_firmware, campaign.deadline)
        return EventType.UPDATE_MANDATED, body
    return None
