"""The write path: who may write, what a write must satisfy, the append, the audit.

A write runs in this order, and stops at the first refusal with nothing stored:
the token's write scope; the robot exists; the idempotency key (a retry is
answered with the first result before any rule runs, since the passport may
have moved on since); the write table of the policies; the rules of
`schema.writes`; the append, where the writer runs the rules again under its
lock. Every outcome, refusals included, is appended to the audit log.

Idempotency keys are scoped to the caller (issuer and subject): two parties
choosing the same key never collide, and a key reveals nothing of another
party's requests.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.store import EventRejected, IdempotencyConflict, UnknownRobot
from policies import (
    WRITE_SCOPE,
    AuditLog,
    AuditRecord,
    PolicySet,
    Principal,
    may_accept_transfer,
    may_write,
    relationship_of,
)
from schema.events import (
    DISCLOSES,
    Event,
    EventType,
    OwnershipTransfer,
    TransferOffer,
    decode_payload,
    payload_of,
)
from schema.passport import ConditionSnapshot, Incident
from schema.source import (
    Appended,
    ConditionIngest,
    IdempotencyLookup,
    PassportSource,
    PassportWriter,
    PendingOffers,
    RobotRecord,
)
from schema.writes import (
    WriteConflict,
    WriteError,
    WriteForbidden,
    WriteNotFound,
    WriteRejected,
    WritesUnavailable,
    check_event,
    is_disposal,
)

MAX_SAMPLES = 5000
MAX_KEY = 200
TRANSFER_EVENTS = (EventType.TRANSFER_OFFERED, EventType.OWNERSHIP_TRANSFERRED)


def scoped_key(principal: Principal, key: str) -> str:
    """The key as stored: the caller's key under its issuer and subject, hashed."""
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise WriteRejected(
            "idempotency.key", "idempotencyKey", f"must be 1 to {MAX_KEY} printable characters"
        )
    text = f"{principal.issuer}\n{principal.subject}\n{key}"
    return hashlib.sha256(text.encode()).hexdigest()


def event_time(body: Any) -> datetime:
    """When the event happened: the payload's own time."""
    for name in ("at", "start", "last_at"):
        value = getattr(body, name, None)
        if isinstance(value, datetime):
            return value
    raise TypeError(f"{type(body).__name__} has no time")


class Writes:
    """Writes for one gateway: a writer, the policies, the audit log.

    `policy` None is trusted mode (benchmarks, in-process tools): every
    write the rules accept is allowed, as every read is.
    """

    def __init__(
        self,
        source: PassportSource,
        writer: PassportWriter | None,
        policy: PolicySet | None,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.writer = writer
        self.policy = policy
        self.audit = audit
        self.clock = clock

    async def append(
        self, principal: Principal, code: str, type: EventType, body: Any, key: str
    ) -> Appended:
        writer = self._writer(principal)
        scoped = scoped_key(principal, key)
        if type is EventType.INCIDENT_REPORTED and isinstance(body, Incident) and not body.id:
            body = dataclasses.replace(body, id="INC-" + scoped[:16].upper())
        record = await self._robot(code)
        payload = payload_of(type, body)
        at = event_time(body)
        replay = await self._replay(principal, writer, scoped, code, type, payload, at)
        if replay is not None:
            return replay
        await self._authorize(principal, record, type, body)
        await self._checked(principal, record, type, body)
        return await self._append(principal, writer, record, type, payload, at, scoped)

    async def offer_transfer(
        self, principal: Principal, code: str, offer: TransferOffer, key: str
    ) -> Appended:
        """The current owner offers the robot; nothing changes hands until it is accepted."""
        return await self.append(principal, code, EventType.TRANSFER_OFFERED, offer, key)

    async def accept_transfer(
        self, principal: Principal, code: str, at: datetime, key: str
    ) -> Appended:
        """The offered party takes the robot; a cross-border transfer moves its link.

        The robot keeps its code and home registry. The registry of the new
        owner's country (when not the home one) gets a link to it; the previous
        owner's foreign registry loses its link. A retry redoes the links,
        which are idempotent, so a retry also completes a transfer whose link
        failed after the append.
        """
        writer = self._writer(principal)
        scoped = scoped_key(principal, key)
        record = await self._robot(code)
        passport = record.passport
        previous = passport.current_owner
        earlier = await _earlier(writer, scoped)
        if earlier is not None:
            if (earlier.code, earlier.type, earlier.at) != (
                code,
                EventType.OWNERSHIP_TRANSFERRED,
                at,
            ):
                raise await self._refused(principal, code, "OWNERSHIP_TRANSFERRED", _conflict())
            await self._relink(writer, record, earlier, before=None)
            await self._audit(principal, code, earlier.type, "replayed", str(earlier.sequence))
            return Appended(earlier, True)
        # Whether an offer is pending is hidden from everyone but the parties to it
        # (a TRANSFER_OFFERED event discloses ownership), so a caller it is not
        # offered to gets the very refusal it would get with no offer at all.
        offer_event = await pending_offer(self.source, writer, code)
        offer = (
            None
            if offer_event is None
            else decode_payload(EventType.TRANSFER_OFFERED, offer_event.payload)
        )
        if offer is None or (
            self.policy is not None and not may_accept_transfer(principal, offer.owner_id)
        ):
            error = WriteRejected(
                "transfer.no_offer", "code", "no transfer of this robot is offered to this caller"
            )
            raise await self._refused(principal, code, "OWNERSHIP_TRANSFERRED", error)
        if at < offer.at:
            error = WriteRejected(
                "time.order", "at", "a transfer cannot be accepted before it was offered"
            )
            raise await self._refused(principal, code, "OWNERSHIP_TRANSFERRED", error)
        body = OwnershipTransfer(
            at, offer.owner, offer.owner_kind, offer.jurisdiction, offer.owner_id
        )
        type = EventType.OWNERSHIP_TRANSFERRED
        await self._checked(principal, record, type, body)
        appended = await self._append(
            principal, writer, record, type, payload_of(type, body), at, scoped
        )
        await self._relink(
            writer, record, appended.event, before=previous.jurisdiction if previous else None
        )
        return appended

    async def ingest(
        self,
        principal: Principal,
        samples: Sequence[tuple[str, ConditionSnapshot]],
        key: str,
    ) -> list[Appended]:
        """A batch of condition samples, any robots: all stored or none, one event per robot."""
        writer = self._writer(principal)
        if not isinstance(writer, ConditionIngest):
            raise WritesUnavailable(
                None, None, "this gateway's registry takes no telemetry batches"
            )
        scoped = scoped_key(principal, key)
        if not samples:
            raise WriteRejected("samples.empty", "samples", "send at least one sample")
        if len(samples) > MAX_SAMPLES:
            raise WriteRejected("samples.too_many", "samples", f"at most {MAX_SAMPLES} per batch")
        groups: dict[str, list[ConditionSnapshot]] = {}
        positions: dict[str, list[int]] = {}
        for i, (code, sample) in enumerate(samples):
            groups.setdefault(code, []).append(sample)
            positions.setdefault(code, []).append(i)
        records = {}
        for code in groups:
            try:
                records[code] = await self._robot(code)
            except WriteNotFound as exc:
                exc.field = f"samples[{positions[code][0]}].code"
                raise
        type = EventType.CONDITIONS_INGESTED
        earlier = await _earlier(writer, f"{scoped}#{min(groups)}")
        if earlier is None:
            for record in records.values():
                await self._authorize(principal, record, type, None)
        try:
            done = await writer.ingest_conditions(
                groups, idempotency_key=scoped, positions=positions
            )
        except WriteRejected as exc:
            code = _robot_of(exc, positions)
            raise await self._refused(principal, code, type.value, exc) from None
        except IdempotencyConflict:
            raise await self._refused(principal, min(groups), type.value, _conflict()) from None
        except UnknownRobot as exc:
            raise WriteNotFound(None, "samples", str(exc)) from None
        for code, appended in done.items():
            outcome = "replayed" if appended.replayed else "stored"
            await self._audit(principal, code, type, outcome, str(appended.event.sequence))
        return [done[code] for code in groups]

    # -- the steps ------------------------------------------------------------

    def _writer(self, principal: Principal) -> PassportWriter:
        if self.writer is None:
            raise WritesUnavailable(None, None, "this gateway serves reads only")
        if self.policy is not None and WRITE_SCOPE not in principal.scopes:
            raise WriteForbidden("scope", None, f"writing needs a token with scope {WRITE_SCOPE}")
        return self.writer

    async def _robot(self, code: str) -> RobotRecord:
        record = await self.source.robot(code)
        if record is None:
            raise WriteNotFound(None, "code", f"No robot {code}")
        return record

    async def _replay(
        self,
        principal: Principal,
        writer: PassportWriter,
        scoped: str,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
    ) -> Appended | None:
        earlier = await _earlier(writer, scoped)
        if earlier is None:
            return None
        if (earlier.code, earlier.type, earlier.payload, earlier.at) != (code, type, payload, at):
            raise await self._refused(principal, code, type.value, _conflict())
        await self._audit(principal, code, type, "replayed", str(earlier.sequence))
        return Appended(earlier, True)

    async def _authorize(
        self, principal: Principal, record: RobotRecord, type: EventType, body: Any
    ) -> None:
        if self.policy is None:
            return
        code = record.passport.code
        relationship = relationship_of(principal, record.passport)
        disposal = is_disposal(record.passport, type, body)
        if not may_write(principal, relationship, type, code[:2], disposal):
            error = WriteForbidden(
                "writes.table",
                None,
                f"a {principal.role.value} ({relationship.value}) may not record"
                f" {type.value} for this robot",
            )
            raise await self._refused(principal, code, type.value, error)

    async def _checked(
        self, principal: Principal, record: RobotRecord, type: EventType, body: Any
    ) -> None:
        try:
            check_event(record.passport, type, body, self.clock())
        except WriteRejected as exc:
            raise await self._refused(principal, record.passport.code, type.value, exc) from None

    async def _append(
        self,
        principal: Principal,
        writer: PassportWriter,
        record: RobotRecord,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        scoped: str,
    ) -> Appended:
        code = record.passport.code
        try:
            event = await writer.append(code, type, payload, at, idempotency_key=scoped)
        except WriteRejected as exc:
            raise await self._refused(principal, code, type.value, exc) from None
        except EventRejected as exc:
            error = WriteRejected("event.rejected", None, str(exc))
            raise await self._refused(principal, code, type.value, error) from None
        except IdempotencyConflict:
            raise await self._refused(principal, code, type.value, _conflict()) from None
        except UnknownRobot as exc:
            raise WriteNotFound(None, "code", str(exc)) from None
        replayed = event.sequence <= record.head.sequence
        await self._audit(
            principal, code, type, "replayed" if replayed else "stored", str(event.sequence)
        )
        return Appended(event, replayed)

    async def _relink(
        self, writer: PassportWriter, record: RobotRecord, event: Event, before: str | None
    ) -> None:
        """Move the robot's foreign links to follow its owner across a border.

        The old link goes first: the embedded demo keeps every country's links
        in one table, where a link is keyed by the code alone.
        """
        home_country = record.passport.code[:2]
        home = record.passport.identity.home_registry
        new = event.payload["jurisdiction"]
        if before is not None and before not in (home_country, new):
            await writer.unlink(before, record.passport.code)
        if new != home_country:
            await writer.link(new, record.passport.code, home, event.at)

    async def _refused(
        self, principal: Principal, code: str, type: str, error: WriteError
    ) -> WriteError:
        """Audit a refusal and hand the error back to be raised."""
        await self._audit(principal, code, EventType(type), "refused", error.rule or error.code)
        return error

    async def _audit(
        self, principal: Principal, code: str, type: EventType, outcome: str, detail: str
    ) -> None:
        if self.audit is None or self.policy is None:
            return
        record = AuditRecord.write(
            principal, code, type.value, DISCLOSES[type], self.clock(), outcome, detail,
            self.policy.version,
        )  # fmt: skip
        await self.audit.record([record])


async def pending_offer(source: PassportSource, writer: PassportWriter, code: str) -> Event | None:
    """The robot's newest transfer offer not yet accepted.

    A writer that can ask its store directly does; otherwise the log is read
    from the start (a federation without that shortcut pays one page per 100
    events).
    """
    if isinstance(writer, PendingOffers):
        return await writer.pending_offer(code)
    last, after = None, None
    while True:
        page = await source.history(code, 100, after)
        for event in page.items:
            if event.type in TRANSFER_EVENTS:
                last = event
        if not page.has_next_page:
            break
        after = page.end_cursor
    return last if last is not None and last.type is EventType.TRANSFER_OFFERED else None


async def _earlier(writer: PassportWriter, scoped: str) -> Event | None:
    """The event the key stored, when the writer can tell before appending."""
    return await writer.earlier(scoped) if isinstance(writer, IdempotencyLookup) else None


def _conflict() -> WriteConflict:
    return WriteConflict(
        "idempotency.conflict", "idempotencyKey", "the key was used before for a different request"
    )


def _robot_of(error: WriteRejected, positions: dict[str, list[int]]) -> str:
    """The robot whose sample broke a rule, from the field the rule named."""
    field = error.field or ""
    if field.startswith("samples["):
        index = int(field[len("samples[") : field.index("]")])
        for code, found in positions.items():
            if index in found:
                return code
    return min(positions)
