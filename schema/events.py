"""A robot's history as an append-only, hash-chained event log.

The passport is the fold of its events. Every event is chained to the one
before it, so altering, dropping or reordering any stored event breaks every
later link. Two hash schemes exist:

- Scheme 2 (current, `SCHEME`): the event's time, type and payload are
  committed to with a secret 128-bit salt the registry draws at append time,
  `commitment = SHA-256(salt || canonical {at, type, payload})`, and the
  chain hash covers (scheme, code, sequence, commitment, previous hash). The
  links verify from public data alone; the salt is disclosed only with the
  payload, so a hash never lets a caller test guesses of a hidden payload.
- Scheme 1 (legacy): the hash is SHA-256 over the canonical JSON of (code,
  sequence, time, type, payload, previous hash). Low-entropy payloads can be
  recovered from it by hashing candidates; `robopass registry recommit`
  moves a store to scheme 2.

Over 500 lines because the two hash schemes, the chain and the fold must be read
together: a change to one is a change to what every stored hash means.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from .codec import format_datetime, from_plain, to_plain
from .passport import (
    Certification,
    ConditionSnapshot,
    Deployment,
    EndOfLife,
    Incident,
    IncidentStatus,
    MaintenanceRecord,
    MandatedUpdate,
    OwnerKind,
    Ownership,
    Passport,
    Recall,
    RobotStatus,
    RootCause,
    Software,
)

GENESIS = "0" * 64
SCHEME = 2
"""The hash scheme new events are chained under (salted commitments)."""
LEGACY_SCHEME = 1
SCHEMES = (LEGACY_SCHEME, SCHEME)
SALT_BYTES = 16


class EventType(enum.Enum):
    """What an event records; each type has one payload dataclass in `PAYLOADS`."""

    REGISTERED = "REGISTERED"
    OWNERSHIP_TRANSFERRED = "OWNERSHIP_TRANSFERRED"
    DEPLOYMENT_STARTED = "DEPLOYMENT_STARTED"
    DEPLOYMENT_ENDED = "DEPLOYMENT_ENDED"
    MAINTENANCE_RECORDED = "MAINTENANCE_RECORDED"
    INCIDENT_REPORTED = "INCIDENT_REPORTED"
    INCIDENT_UPDATED = "INCIDENT_UPDATED"
    CONDITION_RECORDED = "CONDITION_RECORDED"
    SOFTWARE_UPDATED = "SOFTWARE_UPDATED"
    CERTIFIED = "CERTIFIED"
    UPDATE_MANDATED = "UPDATE_MANDATED"
    RECALL_ISSUED = "RECALL_ISSUED"
    RECALL_REMEDIED = "RECALL_REMEDIED"
    STATUS_CHANGED = "STATUS_CHANGED"
    END_OF_LIFE = "END_OF_LIFE"
    TRANSFER_OFFERED = "TRANSFER_OFFERED"
    CONDITIONS_INGESTED = "CONDITIONS_INGESTED"
    CHAIN_RECOMMITTED = "CHAIN_RECOMMITTED"
    PARTIES_IDENTIFIED = "PARTIES_IDENTIFIED"


class EventError(ValueError):
    """An event that cannot apply to the passport as it stands."""


@dataclass(frozen=True, slots=True)
class Event:
    """One stored entry of a robot's log.

    `salt` (32 hex digits) and `commitment` are set under scheme 2 and None
    under scheme 1. An event passed on without its salt (to a caller who may
    not see its payload) still carries its commitment, so its link verifies.
    """

    code: str
    sequence: int
    at: datetime
    type: EventType
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    scheme: int = LEGACY_SCHEME
    salt: str | None = None
    commitment: str | None = None


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of re-computing a chain: `first_bad` is None when intact."""

    length: int
    head_hash: str
    first_bad: int | None = None
    reason: str | None = None

    @property
    def verified(self) -> bool:
        return self.first_bad is None


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no white space, UTF-8: the bytes the hash covers."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def event_hash(
    code: str, sequence: int, at: datetime, type: EventType, payload: dict[str, Any], prev: str
) -> str:
    """The scheme-1 (legacy) hash: over the content itself, unsalted."""
    body = {
        "code": code,
        "sequence": sequence,
        "at": format_datetime(at),
        "type": type.value,
        "payload": payload,
        "prev": prev,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def new_salt() -> str:
    """128 bits from the operating system's CSPRNG, as 32 lowercase hex digits."""
    return secrets.token_hex(SALT_BYTES)


_SALT = re.compile(f"[0-9a-f]{{{2 * SALT_BYTES}}}")


def is_salt(value: Any) -> bool:
    return isinstance(value, str) and _SALT.fullmatch(value) is not None


def commitment_of(
    salt: str,
    at: datetime,
    type: EventType,
    payload: dict[str, Any],
    *,
    text: bytes | None = None,
) -> str:
    """Scheme 2: SHA-256 over the salt's bytes then the canonical JSON of {at, type, payload}.

    Time and type are inside because they are hidden together with the payload.
    `text`, when given, is `canonical_json(payload)` already made (an import stores
    it): the body's JSON is spliced around it, its keys in canonical order, so the
    payload, the largest part, is encoded once (tests: the same bytes as encoding
    the body whole).
    """
    if text is None:
        text = canonical_json(payload)
    body = b"".join(
        (
            b'{"at":',
            orjson.dumps(format_datetime(at)),
            b',"payload":',
            text,
            b',"type":',
            orjson.dumps(type.value),
            b"}",
        )
    )
    return hashlib.sha256(bytes.fromhex(salt) + body).hexdigest()


def link_hash(code: str, sequence: int, commitment: str, prev: str) -> str:
    """Scheme 2: the chain hash, computable by anyone from public parts of the event."""
    body = {
        "scheme": SCHEME,
        "code": code,
        "sequence": sequence,
        "commitment": commitment,
        "prev": prev,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def chain(
    code: str,
    sequence: int,
    at: datetime,
    type: EventType,
    payload: dict[str, Any],
    prev: str,
    *,
    scheme: int = SCHEME,
    salt: str | None = None,
    text: bytes | None = None,
) -> Event:
    """Build the next event of a log whose head is `prev` at `sequence - 1`.

    Under scheme 2 the salt is drawn here unless given (a given salt is for
    rebuilding a stored event, never for deriving one from a seed). `text` is
    the payload's canonical JSON when the caller has it (`commitment_of`).
    """
    if scheme == LEGACY_SCHEME:
        digest = event_hash(code, sequence, at, type, payload, prev)
        return Event(code, sequence, at, type, payload, prev, digest)
    if scheme != SCHEME:
        raise ValueError(f"unknown hash scheme {scheme}")
    salt = new_salt() if salt is None else salt
    if not is_salt(salt):
        raise ValueError("a salt is 32 lowercase hex digits")
    commitment = commitment_of(salt, at, type, payload, text=text)
    digest = link_hash(code, sequence, commitment, prev)
    return Event(code, sequence, at, type, payload, prev, digest, SCHEME, salt, commitment)


def rechain(events: Iterable[Event], scheme: int = SCHEME) -> list[Event]:
    """The same history (sequences, times, types, payloads) chained anew under `scheme`.

    Every hash changes; under scheme 2 every event gets a fresh salt.
    """
    out: list[Event] = []
    prev = GENESIS
    for event in events:
        again = chain(
            event.code, event.sequence, event.at, event.type, event.payload, prev, scheme=scheme
        )
        out.append(again)
        prev = again.hash
    return out


def check_event(event: Event, text: bytes | None = None) -> str | None:
    """Why one event's own hash does not hold (links aside), or None when it does.

    A scheme-2 event's commitment is checked when its salt is present; without
    the salt only the link from the commitment can be checked. `text` is the
    payload's canonical JSON when the caller has it (`commitment_of`).
    """
    if event.scheme == LEGACY_SCHEME:
        actual = event_hash(
            event.code, event.sequence, event.at, event.type, event.payload, event.prev_hash
        )
        return None if actual == event.hash else "content does not match its hash"
    if event.scheme != SCHEME:
        return f"unknown hash scheme {event.scheme}"
    if event.commitment is None:
        return "scheme 2 event without a commitment"
    if link_hash(event.code, event.sequence, event.commitment, event.prev_hash) != event.hash:
        return "commitment does not match its hash"
    if event.salt is not None:
        if not is_salt(event.salt):
            return "salt is not 32 hex digits"
        actual = commitment_of(event.salt, event.at, event.type, event.payload, text=text)
        if actual != event.commitment:
            return "content does not match its commitment"
    return None


def verify(events: Iterable[Event], texts: Sequence[bytes] | None = None) -> ChainReport:
    """Re-compute every link; report the first sequence number that does not hold.

    Each event is checked under its own scheme: a migrated chain holds no
    scheme-1 events, a chain written before the migration may hold only them.
    `texts`, when given, are the payloads' canonical JSON, one per event in
    order, already made by a caller that stores them (`commitment_of`).
    """
    prev, count = GENESIS, 0
    for expected, event in enumerate(events, start=1):
        count = expected
        if event.sequence != expected:
            return ChainReport(count, prev, expected, "sequence gap")
        if event.prev_hash != prev:
            return ChainReport(count, prev, expected, "previous hash does not match")
        reason = check_event(event, None if texts is None else texts[expected - 1])
        if reason is not None:
            return ChainReport(count, prev, expected, reason)
        prev = event.hash
    return ChainReport(count, prev)


# -- the fold ---------------------------------------------------------------


@dataclass(slots=True)
class OwnershipTransfer:
    at: datetime
    owner: str
    owner_kind: OwnerKind
    jurisdiction: str
    owner_id: str | None = None


@dataclass(slots=True)
class DeploymentEnd:
    at: datetime
    operating_hours: float


@dataclass(slots=True)
class IncidentUpdate:
    incident_id: str
    status: IncidentStatus
    root_cause: RootCause
    findings: str | None = None


@dataclass(slots=True)
class SoftwareUpdate:
    at: datetime
    software: Software


@dataclass(slots=True)
class RecallRemedy:
    reference: str
    at: datetime


@dataclass(slots=True)
class StatusChange:
    status: RobotStatus
    reason: str


@dataclass(slots=True)
class TransferOffer:
    """The current owner offers the robot to `owner`; it passes when `owner` accepts.

    The offer is an event, so it is as durable as the log, travels to any
    registry like every other event and is superseded by a later offer or
    consumed by the OWNERSHIP_TRANSFERRED that accepts it.
    """

    at: datetime
    owner: str
    owner_kind: OwnerKind
    jurisdiction: str
    owner_id: str | None = None


@dataclass(slots=True)
class IdentifiedParty:
    """One ownership or deployment entry (by its position, oldest 0) and its identifier."""

    index: int
    id: str


@dataclass(slots=True)
class PartiesIdentified:
    """Identifiers recorded for entries written before passports carried them.

    A registry's operator knows which party each stored name stands for; this
    event records it in the chain (schema.parties says what an identifier is),
    so an entry gains a relationship only once identified, never by its name.
    """

    at: datetime
    owners: list[IdentifiedParty]
    operators: list[IdentifiedParty]


@dataclass(slots=True)
class ConditionsIngested:
    """A batch of condition samples kept in the registry's telemetry table.

    The log holds one event per batch: how many samples, their time span and
    `digest` = SHA-256(`salt` || canonical JSON of the samples), so the chain
    commits to every sample without a chained event per sample. The salt (128
    random bits, like an event's) keeps the digest from confirming guessed
    samples; batches written before salting have none and an unsalted digest.
    `latest` is the newest sample; it becomes the passport's current
    condition, replacing the previous batch's summary when that was `replaces`
    on the same UTC day, so the passport keeps one condition summary per day
    of telemetry. `batch` is the SHA-256 over every robot's (salted) digest in
    the request, so a retried key is told apart from the same key sent with
    other robots, and it is no more an oracle than the digests it covers.
    """

    count: int
    first_at: datetime
    last_at: datetime
    digest: str
    latest: ConditionSnapshot
    replaces: datetime | None = None
    batch: str | None = None
    salt: str | None = None


@dataclass(slots=True)
class ChainRecommitted:
    """The registry re-committed this robot's whole history from one hash scheme to another.

    Sequences, times, types and payloads are unchanged; every earlier hash is
    new. It carries no hash of the old chain: an unsalted legacy hash would be
    the dictionary oracle the migration removes. It changes nothing in the
    passport.
    """

    from_scheme: int
    to_scheme: int
    events: int


PAYLOADS: dict[EventType, type] = {
    EventType.REGISTERED: Passport,
    EventType.OWNERSHIP_TRANSFERRED: OwnershipTransfer,
    EventType.DEPLOYMENT_STARTED: Deployment,
    EventType.DEPLOYMENT_ENDED: DeploymentEnd,
    EventType.MAINTENANCE_RECORDED: MaintenanceRecord,
    EventType.INCIDENT_REPORTED: Incident,
    EventType.INCIDENT_UPDATED: IncidentUpdate,
    EventType.CONDITION_RECORDED: ConditionSnapshot,
    EventType.SOFTWARE_UPDATED: SoftwareUpdate,
    EventType.CERTIFIED: Certification,
    EventType.UPDATE_MANDATED: MandatedUpdate,
    EventType.RECALL_ISSUED: Recall,
    EventType.RECALL_REMEDIED: RecallRemedy,
    EventType.STATUS_CHANGED: StatusChange,
    EventType.END_OF_LIFE: EndOfLife,
    EventType.TRANSFER_OFFERED: TransferOffer,
    EventType.CONDITIONS_INGESTED: ConditionsIngested,
    EventType.CHAIN_RECOMMITTED: ChainRecommitted,
    EventType.PARTIES_IDENTIFIED: PartiesIdentified,
}


def payload_of(type: EventType, body: Any) -> dict[str, Any]:
    """Encode a typed payload; the inverse of `decode_payload`."""
    if not isinstance(body, PAYLOADS[type]):
        raise EventError(f"{type.value} carries {PAYLOADS[type].__name__}")
    return to_plain(body)


def decode_payload(type: EventType, payload: dict[str, Any]) -> Any:
    return from_plain(PAYLOADS[type], payload)


def fold(events: Iterable[Event], until: datetime | None = None) -> Passport | None:
    """The passport after `events`, or as it stood at `until` (events up to that time)."""
    passport: Passport | None = None
    for event in events:
        if until is None or event.at <= until:
            passport = _apply_in_place(passport, event.type, event.payload)
    return passport


def apply(passport: Passport | None, type: EventType, payload: dict[str, Any]) -> Passport:
    """The passport after one more event; the input is not modified."""
    return _apply_in_place(copy.deepcopy(passport), type, payload)


def apply_in_place(passport: Passport, type: EventType, payload: dict[str, Any]) -> Passport:
    """`apply` changing `passport` itself: for a caller that owns a fresh copy.

    The copy `apply` makes is most of the cost of a write (a store decodes the
    snapshot anew for every append, so it has nothing to protect).
    """
    return _apply_in_place(passport, type, payload)


def _apply_in_place(
    passport: Passport | None, type: EventType, payload: dict[str, Any]
) -> Passport:
    body = decode_payload(type, payload)
    if type is EventType.REGISTERED:
        if passport is not None:
            raise EventError("robot is already registered")
        return body
    if passport is None:
        raise EventError(f"{type.value} before REGISTERED")
    _APPLY[type](passport, body)
    return passport


def _transfer(p: Passport, t: OwnershipTransfer) -> None:
    if p.current_owner is not None:
        p.current_owner.end = t.at
    p.ownership.append(Ownership(t.at, None, t.owner, t.owner_kind, t.jurisdiction, t.owner_id))


def _identify(p: Passport, e: PartiesIdentified) -> None:
    for entries, parties, name in (
        (p.ownership, e.owners, "ownership"),
        (p.deployments, e.operators, "deployment"),
    ):
        for party in parties:
            if not 0 <= party.index < len(entries):
                raise EventError(f"no {name} entry {party.index}")
    for party in e.owners:
        p.ownership[party.index].owner_id = party.id
    for party in e.operators:
        p.deployments[party.index].operator_id = party.id


def _end_deployment(p: Passport, d: DeploymentEnd) -> None:
    open_ = [x for x in p.deployments if x.end is None]
    if not open_:
        raise EventError("no open deployment to end")
    open_[-1].end = d.at
    open_[-1].operating_hours = d.operating_hours


def _update_incident(p: Passport, u: IncidentUpdate) -> None:
    incident = next((i for i in p.incidents if i.id == u.incident_id), None)
    if incident is None:
        raise EventError(f"no incident {u.incident_id!r}")
    incident.status, incident.root_cause = u.status, u.root_cause
    if u.findings is not None:
        incident.findings = u.findings


def _remedy(p: Passport, r: RecallRemedy) -> None:
    recall = next((x for x in p.compliance.recalls if x.reference == r.reference), None)
    if recall is None:
        raise EventError(f"no recall {r.reference!r}")
    recall.remedied_at = r.at


def _end_of_life(p: Passport, e: EndOfLife) -> None:
    p.compliance.end_of_life = e
    p.identity.status = e.disposition


def _set_software(p: Passport, u: SoftwareUpdate) -> None:
    p.software = u.software


def _set_status(p: Passport, s: StatusChange) -> None:
    p.identity.status = s.status


def _ingested(p: Passport, c: ConditionsIngested) -> None:
    last = p.condition
    if (
        last is not None
        and c.replaces is not None
        and last.at == c.replaces
        and last.at.date() == c.latest.at.date()
    ):
        p.conditions[-1] = c.latest
    else:
        p.conditions.append(c.latest)


_APPLY: dict[EventType, Callable[[Passport, Any], None]] = {
    EventType.OWNERSHIP_TRANSFERRED: _transfer,
    EventType.DEPLOYMENT_STARTED: lambda p, d: p.deployments.append(d),
    EventType.DEPLOYMENT_ENDED: _end_deployment,
    EventType.MAINTENANCE_RECORDED: lambda p, m: p.maintenance.append(m),
    EventType.INCIDENT_REPORTED: lambda p, i: p.incidents.append(i),
    EventType.INCIDENT_UPDATED: _update_incident,
    EventType.CONDITION_RECORDED: lambda p, c: p.conditions.append(c),
    EventType.SOFTWARE_UPDATED: _set_software,
    EventType.CERTIFIED: lambda p, c: p.compliance.certifications.append(c),
    EventType.UPDATE_MANDATED: lambda p, m: p.compliance.mandated_updates.append(m),
    EventType.RECALL_ISSUED: lambda p, r: p.compliance.recalls.append(r),
    EventType.RECALL_REMEDIED: _remedy,
    EventType.STATUS_CHANGED: _set_status,
    EventType.END_OF_LIFE: _end_of_life,
    EventType.TRANSFER_OFFERED: lambda p, o: None,
    EventType.CONDITIONS_INGESTED: _ingested,
    EventType.CHAIN_RECOMMITTED: lambda p, r: None,
    EventType.PARTIES_IDENTIFIED: _identify,
}


_HISTORIES = ("deployments", "maintenance", "incidents", "conditions", "ownership")

DISCLOSES: dict[EventType, tuple[str, ...]] = {
    EventType.REGISTERED: (
        "identity",
        "manufacturer",
        "model",
        "hardware",
        "software",
        "compliance",
        *_HISTORIES,
    ),
    EventType.OWNERSHIP_TRANSFERRED: ("ownership",),
    EventType.DEPLOYMENT_STARTED: ("deployments",),
    EventType.DEPLOYMENT_ENDED: ("deployments",),
    EventType.MAINTENANCE_RECORDED: ("maintenance",),
    EventType.INCIDENT_REPORTED: ("incidents",),
    EventType.INCIDENT_UPDATED: ("incidents",),
    EventType.CONDITION_RECORDED: ("conditions",),
    EventType.SOFTWARE_UPDATED: ("software",),
    EventType.CERTIFIED: ("compliance.certifications",),
    EventType.UPDATE_MANDATED: ("compliance.mandated_updates",),
    EventType.RECALL_ISSUED: ("compliance.recalls",),
    EventType.RECALL_REMEDIED: ("compliance.recalls",),
    EventType.STATUS_CHANGED: ("identity.status",),
    EventType.END_OF_LIFE: ("compliance.end_of_life", "identity.status"),
    EventType.TRANSFER_OFFERED: ("ownership",),
    EventType.CONDITIONS_INGESTED: ("conditions",),
    EventType.CHAIN_RECOMMITTED: (),
    EventType.PARTIES_IDENTIFIED: ("ownership", "deployments"),
}
"""The canonical subtrees whose content an event's payload reveals.

An event may be shown to a caller only where every path under these is visible.
CHAIN_RECOMMITTED reveals nothing of the passport (schemes and a count), so it
is public.
"""
