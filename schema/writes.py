"""What a write must satisfy before it joins a robot's log: pure, named rules.

Every refusal names its rule (`range.percent`, `time.future`, ...) and the
input field that broke it, in the GraphQL input's camelCase
(`samples[3].batteryHealthPct`), so a client can fix the value without
guessing. The rules read the passport as it stands; a store runs them again
inside the transaction that appends, so no concurrent write can slip between
the check and the append.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from .codec import format_datetime
from .events import (
    ConditionsIngested,
    DeploymentEnd,
    EventType,
    OwnershipTransfer,
    SoftwareUpdate,
    TransferOffer,
    canonical_json,
)
from .parties import PARTY_ID_SYNTAX, is_party_id
from .passport import (
    ConditionSnapshot,
    Deployment,
    EndOfLife,
    Incident,
    MaintenanceRecord,
    Passport,
    RobotStatus,
)

CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the registry's clock a time may be: devices' clocks drift."""

ENDED = frozenset({RobotStatus.DECOMMISSIONED, RobotStatus.SCRAPPED})
COUNTRY = re.compile(r"^[A-Z]{2}$")


class WriteError(Exception):
    """A write refused, with the code clients switch on; nothing was stored."""

    code = "WRITE_FAILED"

    def __init__(self, rule: str | None, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message} (rule {rule})" if field else message)
        self.rule = rule
        self.field = field
        self.message = message


class WriteRejected(WriteError):
    """A value broke `rule` at input `field`."""

    code = "EVENT_REJECTED"


class WriteForbidden(WriteError):
    """The caller may not make this write (deny by default); `rule` says which check failed."""

    code = "FORBIDDEN"


class WriteConflict(WriteError):
    """The idempotency key was used before for a different request."""

    code = "IDEMPOTENCY_CONFLICT"


class WriteNotFound(WriteError):
    """No robot with that code."""

    code = "NOT_FOUND"


class WritesUnavailable(WriteError):
    """This gateway has nowhere to write (a read-only source)."""

    code = "WRITES_UNAVAILABLE"


def check_event(
    passport: Passport,
    type: EventType,
    body: Any,
    now: datetime,
    skew: timedelta = CLOCK_SKEW,
) -> None:
    """Raise `WriteRejected` unless typed payload `body` may join this passport's log."""
    if type is EventType.CHAIN_RECOMMITTED:
        raise WriteRejected(
            "type.registry_only", "type", "CHAIN_RECOMMITTED is recorded by the registry only"
        )
    if passport.identity.status in ENDED:
        if not is_disposal(passport, type, body):
            raise WriteRejected(
                "status.ended",
                "code",
                "the robot has left service: only a decommissioned robot's disposal record"
                " (END_OF_LIFE, disposition SCRAPPED, the facility) may follow",
            )
        _times(passport, body, now, skew)
        ended = passport.compliance.end_of_life
        if ended is not None and body.at < ended.at:
            raise WriteRejected(
                "time.order", "at", f"{_t(body.at)} is before the decommissioning {_t(ended.at)}"
            )
        return
    if isinstance(body, ConditionSnapshot):
        check_samples(passport, [body], now, skew, prefix="")
        return
    if isinstance(body, ConditionsIngested):
        return
    _times(passport, body, now, skew)
    _CHECKS.get(type, _nothing)(passport, body)


def is_disposal(passport: Passport, type: EventType, body: Any) -> bool:
    """The one event a decommissioned robot still takes: its disposal record, a recycler's
    END_OF_LIFE scrapping it at a named facility (what an end-of-life obligation asks)."""
    return (
        passport.identity.status is RobotStatus.DECOMMISSIONED
        and type is EventType.END_OF_LIFE
        and isinstance(body, EndOfLife)
        and body.disposition is RobotStatus.SCRAPPED
        and bool((body.facility or "").strip())
    )


def check_samples(
    passport: Passport,
    samples: Sequence[ConditionSnapshot],
    now: datetime,
    skew: timedelta = CLOCK_SKEW,
    prefix: str = "samples",
    positions: Sequence[int] | None = None,
) -> None:
    """Samples in time order, after the latest condition, with counters that never fall.

    Out-of-order or back-filled samples are refused (`time.order`): that is
    what lets "operating hours never decrease" be checked against one value.
    """
    if passport.identity.status in ENDED:
        where = f"{prefix}[{positions[0] if positions else 0}].code" if prefix else "code"
        raise WriteRejected("status.ended", where, "the robot has left service")
    latest = passport.condition
    limit = now + skew
    born = passport.identity.registered_at
    prev_at = latest.at if latest else None
    hours = latest.operating_hours if latest else 0.0
    cycles = latest.charge_cycles if latest else 0
    stress = latest.abnormal_stress_events if latest else 0
    for i, s in enumerate(samples):
        where = f"{prefix}[{positions[i] if positions else i}]." if prefix else ""
        at = s.at
        if at.tzinfo is None:
            raise WriteRejected("time.offset", where + "at", "the time needs a UTC offset")
        if at > limit:
            raise WriteRejected("time.future", where + "at", f"{_t(at)} is in the future")
        if at < born:
            raise WriteRejected(
                "time.before_registration", where + "at", f"{_t(at)} is before {_t(born)}"
            )
        if prev_at is not None and at <= prev_at:
            raise WriteRejected(
                "time.order",
                where + "at",
                f"{_t(at)} is not after the previous sample {_t(prev_at)}",
            )
        if not 0.0 <= s.battery_health_pct <= 100.0:
            raise WriteRejected(
                "range.percent", where + "batteryHealthPct", "must be between 0 and 100"
            )
        if s.movement_precision_mm < 0:
            raise WriteRejected(
                "range.non_negative", where + "movementPrecisionMm", "must be 0 or more"
            )
        if s.operating_hours < hours:
            raise WriteRejected(
                "counter.decrease",
                where + "operatingHours",
                f"operating hours never decrease ({s.operating_hours} < {hours})",
            )
        if s.charge_cycles < cycles:
            raise WriteRejected(
                "counter.decrease", where + "chargeCycles", "charge cycles never decrease"
            )
        if s.abnormal_stress_events < stress:
            raise WriteRejected(
                "counter.decrease",
                where + "abnormalStressEvents",
                "abnormal stress events never decrease",
            )
        for j, w in enumerate(s.joint_wear):
            if not 0.0 <= w.wear_pct <= 100.0:
                raise WriteRejected(
                    "range.percent", f"{where}jointWear[{j}].wearPct", "must be between 0 and 100"
                )
            if not w.joint:
                raise WriteRejected("required", f"{where}jointWear[{j}].joint", "must not be empty")
        prev_at, hours = at, s.operating_hours
        cycles, stress = s.charge_cycles, s.abnormal_stress_events


def samples_digest(samples: Sequence[dict[str, Any]], salt: str | None) -> str:
    """SHA-256 of the salt's bytes then the canonical JSON array of samples (plain form).

    What the chain commits to. `salt` is None only for batches stored before
    digests were salted: an unsalted digest confirms guessed samples.
    """
    prefix = bytes.fromhex(salt) if salt is not None else b""
    return hashlib.sha256(prefix + canonical_json(list(samples))).hexdigest()


def batch_digest(digests: dict[str, str]) -> str:
    """The digest of a whole request: over each robot's code and its salted samples digest."""
    pairs = [[code, digest] for code, digest in sorted(digests.items())]
    return hashlib.sha256(canonical_json(pairs)).hexdigest()


def ingest_summary(
    samples: Sequence[ConditionSnapshot], digest: str, previous: datetime | None, salt: str
) -> ConditionsIngested:
    """The payload chaining a batch: count, span, salted digest, newest sample."""
    return ConditionsIngested(
        count=len(samples),
        first_at=samples[0].at,
        last_at=samples[-1].at,
        digest=digest,
        latest=samples[-1],
        replaces=previous,
        salt=salt,
    )


def _t(value: datetime) -> str:
    return format_datetime(value)


def _times(passport: Passport, body: Any, now: datetime, skew: timedelta) -> None:
    born = passport.identity.registered_at
    for name in ("at", "start", "end"):
        value = getattr(body, name, None)
        if not isinstance(value, datetime):
            continue
        field = _camel(name)
        if value.tzinfo is None:
            raise WriteRejected("time.offset", field, "the time needs a UTC offset")
        if value > now + skew:
            raise WriteRejected("time.future", field, f"{_t(value)} is in the future")
        if value < born:
            raise WriteRejected(
                "time.before_registration", field, f"{_t(value)} is before {_t(born)}"
            )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _required(body: Any, *names: str) -> None:
    for name in names:
        if not str(getattr(body, name) or "").strip():
            raise WriteRejected("required", _camel(name), "must not be empty")


def _non_negative(body: Any, *names: str) -> None:
    for name in names:
        if getattr(body, name) < 0:
            raise WriteRejected("range.non_negative", _camel(name), "must be 0 or more")


def _country(value: str, field: str) -> None:
    if not COUNTRY.match(value):
        raise WriteRejected("format.country", field, "must be an ISO 3166-1 alpha-2 code")


def _maintenance(p: Passport, m: MaintenanceRecord) -> None:
    _required(m, "component", "performed_by")
    _non_negative(m, "hours_at_service")


def _incident(p: Passport, i: Incident) -> None:
    _required(i, "description")


def _party_id(value: str | None, field: str, required: bool) -> None:
    """A party identifier in its canonical spelling (schema/parties.py); names are not ids."""
    if value is None and not required:
        return
    if not is_party_id(value):
        raise WriteRejected(
            "format.party_id", field, f"must be a party identifier: {PARTY_ID_SYNTAX}"
        )


def _deployment(p: Passport, d: Deployment) -> None:
    _required(d, "region", "operator")
    _party_id(d.operator_id, "operatorId", required=False)
    _non_negative(d, "operating_hours")
    if d.end is not None and d.end < d.start:
        raise WriteRejected("time.order", "end", "a deployment cannot end before it starts")
    if any(x.end is None for x in p.deployments):
        raise WriteRejected(
            "deployment.open", "start", "the robot is already deployed; end that first"
        )


def _deployment_end(p: Passport, d: DeploymentEnd) -> None:
    _non_negative(d, "operating_hours")
    open_ = [x for x in p.deployments if x.end is None]
    if not open_:
        raise WriteRejected("deployment.none_open", "at", "the robot has no open deployment")
    if d.at < open_[-1].start:
        raise WriteRejected("time.order", "at", "a deployment cannot end before it starts")


def _software(p: Passport, u: SoftwareUpdate) -> None:
    _required(u.software, "firmware_version", "operating_system")


def _end_of_life(p: Passport, e: EndOfLife) -> None:
    if e.disposition not in ENDED:
        raise WriteRejected(
            "decommission.disposition", "disposition", "must be DECOMMISSIONED or SCRAPPED"
        )


def _offer(p: Passport, o: TransferOffer) -> None:
    _required(o, "owner")
    _party_id(o.owner_id, "newOwnerId", required=True)
    _country(o.jurisdiction, "jurisdiction")
    current = p.current_owner
    if current is not None and current.owner_id == o.owner_id:
        raise WriteRejected(
            "transfer.current_owner", "newOwner", "the robot already belongs to that owner"
        )


def _transfer(p: Passport, t: OwnershipTransfer) -> None:
    _required(t, "owner")
    _party_id(t.owner_id, "ownerId", required=True)
    _country(t.jurisdiction, "jurisdiction")
    current = p.current_owner
    if current is not None and t.at < current.start:
        raise WriteRejected(
            "time.order", "at", "ownership cannot pass before the current one began"
        )


def _nothing(p: Passport, body: Any) -> None:
    """No rule beyond the times for this event type."""


_CHECKS: dict[EventType, Any] = {
    EventType.MAINTENANCE_RECORDED: _maintenance,
    EventType.INCIDENT_REPORTED: _incident,
    EventType.DEPLOYMENT_STARTED: _deployment,
    EventType.DEPLOYMENT_ENDED: _deployment_end,
    EventType.SOFTWARE_UPDATED: _software,
    EventType.END_OF_LIFE: _end_of_life,
    EventType.TRANSFER_OFFERED: _offer,
    EventType.OWNERSHIP_TRANSFERRED: _transfer,
}
