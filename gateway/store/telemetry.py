"""Condition samples at volume: raw rows beside the log, one chained event per batch.

A chained event per sample would rewrite the passport snapshot per sample.
Instead a batch of one robot's samples is validated, stored in
`condition_samples` and chained as one CONDITIONS_INGESTED event carrying the
count, the time span and the salted SHA-256 of the samples' canonical JSON,
all in one transaction. Old samples are rolled up into daily aggregates
(`condition_daily`); the chain still verifies, since it covers the events,
and `verify_telemetry` re-checks the digest of every batch still held raw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson

from gateway.store.chaining import append_event
from gateway.store.errors import IdempotencyConflict
from gateway.store.sql import EVENT_COLUMNS, row_event
from schema.codec import format_datetime, to_plain
from schema.events import Event, EventType, canonical_json, new_salt
from schema.passport import ConditionSnapshot, JointWear, Passport
from schema.source import Appended, ConditionPoint
from schema.writes import batch_digest, check_samples, ingest_summary, samples_digest

US = 1_000_000
DAY_US = 86_400 * US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SAMPLE_COLUMNS = (
    "at, operating_hours, battery_health_pct, charge_cycles, movement_precision_mm,"
    " abnormal_stress_events, joint_wear"
)
INSERT_SAMPLE = (
    "INSERT INTO condition_samples (code, batch, " + SAMPLE_COLUMNS + ")"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
DAILY_COLUMNS = (
    "code, day, samples, first_at, last_at, operating_hours, battery_health_pct_min,"
    " battery_health_pct_sum, battery_health_pct_max, charge_cycles,"
    " movement_precision_mm_sum, movement_precision_mm_max, abnormal_stress_events,"
    " joint_wear, batches"
)


def micros(at: datetime) -> int:
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class Rollup:
    """What a rollup did: samples folded into daily aggregates, days written."""

    samples: int
    days: int
    robots: int


@dataclass(frozen=True, slots=True)
class BatchCheck:
    """A batch's digest re-computed from the samples still held raw."""

    sequence: int
    count: int
    raw: int
    rolled_up: int
    verified: bool | None
    reason: str | None = None


class TelemetryStore:
    """Telemetry methods of `gateway.store.base.Store` (a mixin: it brings the connection)."""

    registry: str
    lock_row: str
    _write: Callable[..., Any]
    _reading: Callable[..., Any]
    _lock_feed: Callable[..., Any]

    def ingest_conditions(
        self,
        batches: Mapping[str, Sequence[ConditionSnapshot]],
        *,
        idempotency_key: str,
        now: datetime | None = None,
        positions: Mapping[str, Sequence[int]] | None = None,
    ) -> dict[str, Appended]:
        """Store each robot's samples and chain one event per robot, all in one transaction.

        The same key with the same samples returns the first events and writes
        nothing; the same key with other samples is `IdempotencyConflict`. A
        sample that breaks a rule (`schema.writes`) refuses the whole batch;
        `positions` gives each robot's samples' places in the request, for the
        field the refusal names.
        """
        clock = now or datetime.now(UTC)
        prepared = {
            code: [plain_sample(s) for s in samples] for code, samples in sorted(batches.items())
        }
        salts = {code: new_salt() for code in prepared}
        digests = {code: samples_digest(plain, salts[code]) for code, plain in prepared.items()}
        batch = batch_digest(digests)

        def work(db: Any) -> dict[str, Appended]:
            done: dict[str, Appended] = {}
            for code, plain in prepared.items():
                key = f"{idempotency_key}#{code}"
                row = db.execute(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE idempotency_key = ?", (key,)
                ).fetchone()
                if row is not None:
                    done[code] = Appended(_replayed(row, code, plain), True)
            if done and len(done) != len(prepared):
                raise IdempotencyConflict(
                    f"idempotency key {idempotency_key!r} was used for another batch"
                )
            if done:
                _same_batch(done)
                return done
            recorded = format_datetime(datetime.now(UTC))
            self._lock_feed(db)
            for code, plain in prepared.items():
                samples = batches[code]

                compose = partial(
                    _batch_payload,
                    db,
                    code,
                    samples,
                    clock=clock,
                    positions=positions.get(code) if positions else None,
                    digest=digests[code],
                    salt=salts[code],
                    batch=batch,
                )
                event, _ = append_event(
                    db,
                    code,
                    EventType.CONDITIONS_INGESTED,
                    compose,
                    registry=self.registry,
                    lock_row=self.lock_row,
                    key=f"{idempotency_key}#{code}",
                    recorded=recorded,
                )
                db.executemany(
                    INSERT_SAMPLE,
                    [
                        _sample_row(code, event.sequence, s, p)
                        for s, p in zip(samples, plain, strict=True)
                    ],
                )
                done[code] = Appended(event, False)
            return done

        return self._write(work)

    def condition_samples(
        self, code: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[ConditionPoint]:
        """Raw samples in the window, oldest first."""
        low, high = _window(since, until)
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {SAMPLE_COLUMNS} FROM condition_samples"
                " WHERE code = ? AND at >= ? AND at <= ? ORDER BY at",
                (code, low, high),
            ).fetchall()
        return [_raw_point(r) for r in rows]

    def condition_days(
        self, code: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[ConditionPoint]:
        """Daily aggregates whose last sample is in the window, oldest first."""
        low, high = _window(since, until)
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {DAILY_COLUMNS} FROM condition_daily"
                " WHERE code = ? AND last_at >= ? AND last_at <= ? ORDER BY day",
                (code, low, high),
            ).fetchall()
        return [_daily_point(r) for r in rows]

    def rollup(self, older_than: timedelta, now: datetime | None = None) -> Rollup:
        """Fold raw samples of whole UTC days older than `older_than` into daily aggregates.

        One transaction per robot; a day already rolled up absorbs late samples.
        Events are untouched, so every chain verifies as before.
        """
        cutoff_day = (micros(now or datetime.now(UTC)) - _micros(older_than)) // DAY_US
        cutoff = cutoff_day * DAY_US
        with self._reading() as db:
            codes = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT code FROM condition_samples WHERE at < ?", (cutoff,)
                ).fetchall()
            ]
        samples = days = 0
        for code in codes:
            n, d = self._write(lambda db, c=code: _rollup_robot(db, c, cutoff))
            samples, days = samples + n, days + d
        return Rollup(samples, days, len(codes))

    def verify_telemetry(self, code: str, events: Sequence[Event]) -> list[BatchCheck]:
        """Re-compute the digest of every batch of `events` whose samples are all still raw."""
        checks = []
        with self._reading() as db:
            daily = db.execute(
                "SELECT batches FROM condition_daily WHERE code = ?", (code,)
            ).fetchall()
        rolled: dict[int, int] = {}
        for (text,) in daily:
            for seq, n in orjson.loads(text).items():
                rolled[int(seq)] = rolled.get(int(seq), 0) + n
        for event in events:
            if event.type is not EventType.CONDITIONS_INGESTED:
                continue
            with self._reading() as db:
                rows = db.execute(
                    f"SELECT {SAMPLE_COLUMNS} FROM condition_samples"
                    " WHERE code = ? AND batch = ? ORDER BY at",
                    (code, event.sequence),
                ).fetchall()
            count, late = event.payload["count"], rolled.get(event.sequence, 0)
            checks.append(batch_check(event, count, rows, late))
        return checks


def _batch_payload(
    db: Any,
    code: str,
    samples: Sequence[ConditionSnapshot],
    passport: Passport,
    *,
    clock: datetime,
    positions: Sequence[int] | None,
    digest: str,
    salt: str,
    batch: str,
) -> tuple[dict[str, Any], datetime]:
    """The CONDITIONS_INGESTED payload and time of one robot's batch, its samples checked
    against the passport as it stands (under the row lock `append_event` took)."""
    check_samples(passport, samples, clock, positions=positions)
    (previous,) = db.execute(
        "SELECT MAX(at) FROM condition_samples WHERE code = ?", (code,)
    ).fetchone()
    summary = ingest_summary(
        samples, digest, None if previous is None else from_micros(previous), salt
    )
    summary.batch = batch
    return to_plain(summary), summary.last_at


def batch_check(event: Event, count: int, rows: list[Any], rolled: int) -> BatchCheck:
    """One batch against its raw sample rows (SAMPLE_COLUMNS, time order) and the count
    of its samples rolled up into daily aggregates (`gateway.store.verifying` too)."""
    if len(rows) + rolled != count:
        return BatchCheck(
            event.sequence, count, len(rows), rolled, False, "samples missing or added"
        )
    if rolled:
        return BatchCheck(event.sequence, count, len(rows), rolled, None, "rolled up")
    digest = samples_digest([_plain_sample(r) for r in rows], event.payload.get("salt"))
    if digest != event.payload["digest"]:
        return BatchCheck(event.sequence, count, len(rows), 0, False, "samples do not match digest")
    return BatchCheck(event.sequence, count, len(rows), 0, True)


def _replayed(row: Any, code: str, plain: list[dict[str, Any]]) -> Event:
    """The stored event of a retried key, if it chained these very samples.

    The digest is salted, so the retry's samples are digested again under the
    stored event's salt rather than compared with the retry's fresh digest.
    """
    event = row_event(row)
    if (
        event.code != code
        or event.type is not EventType.CONDITIONS_INGESTED
        or event.payload.get("count") != len(plain)
        or event.payload.get("digest") != samples_digest(plain, event.payload.get("salt"))
    ):
        raise IdempotencyConflict("the idempotency key was used for another batch")
    return event


def _same_batch(done: Mapping[str, Appended]) -> None:
    """A retry names the same robots as the first request: its batch digest says so."""

    digests = {code: a.event.payload["digest"] for code, a in done.items()}
    expected = batch_digest(digests)
    if any(a.event.payload.get("batch") != expected for a in done.values()):
        raise IdempotencyConflict("the idempotency key was used for another batch")


def plain_sample(s: ConditionSnapshot) -> dict[str, Any]:
    """A sample's canonical plain form, numbers typed as the columns hold them.

    The digest covers this form and `verify_telemetry` rebuilds it from the
    columns, so an integer sent for a float must be a float already here.
    """
    return {
        "at": format_datetime(s.at),
        "operating_hours": float(s.operating_hours),
        "battery_health_pct": float(s.battery_health_pct),
        "charge_cycles": int(s.charge_cycles),
        "movement_precision_mm": float(s.movement_precision_mm),
        "abnormal_stress_events": int(s.abnormal_stress_events),
        "joint_wear": [{"joint": w.joint, "wear_pct": float(w.wear_pct)} for w in s.joint_wear],
    }


def _sample_row(
    code: str, batch: int, sample: ConditionSnapshot, plain: dict[str, Any]
) -> tuple[Any, ...]:
    return (
        code,
        batch,
        micros(sample.at),
        plain["operating_hours"],
        plain["battery_health_pct"],
        plain["charge_cycles"],
        plain["movement_precision_mm"],
        plain["abnormal_stress_events"],
        canonical_json(plain["joint_wear"]).decode(),
    )


def _plain_sample(row: Any) -> dict[str, Any]:
    at, hours, battery, cycles, precision, stress, wear = row
    return {
        "at": format_datetime(from_micros(at)),
        "operating_hours": hours,
        "battery_health_pct": battery,
        "charge_cycles": cycles,
        "movement_precision_mm": precision,
        "abnormal_stress_events": stress,
        "joint_wear": orjson.loads(wear),
    }


def _wear(text: str) -> list[JointWear]:
    return [JointWear(w["joint"], w["wear_pct"]) for w in orjson.loads(text)]


def _raw_point(row: Any) -> ConditionPoint:
    at, hours, battery, cycles, precision, stress, wear = row
    return ConditionPoint(
        from_micros(at), hours, battery, cycles, precision, stress, _wear(wear),
        "RAW", 1, battery, battery, battery, precision, precision,
    )  # fmt: skip


def _daily_point(row: Any) -> ConditionPoint:
    (_, _, n, _, last, hours, bmin, bsum, bmax, cycles, psum, pmax, stress, wear, _) = row
    wear_list = _wear(wear)
    return ConditionPoint(
        at=from_micros(last),
        operating_hours=hours,
        battery_health_pct=bsum / n,
        charge_cycles=cycles,
        movement_precision_mm=psum / n,
        abnormal_stress_events=stress,
        joint_wear=wear_list,
        resolution="DAILY",
        samples=n,
        battery_health_pct_min=bmin,
        battery_health_pct_mean=bsum / n,
        battery_health_pct_max=bmax,
        movement_precision_mm_mean=psum / n,
        movement_precision_mm_max=pmax,
    )


def _window(since: datetime | None, until: datetime | None) -> tuple[int, int]:
    low = micros(since) if since is not None else -(1 << 62)
    high = micros(until) if until is not None else 1 << 62
    return low, high


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def _rollup_robot(db: Any, code: str, cutoff: int) -> tuple[int, int]:
    rows = db.execute(
        f"SELECT batch, {SAMPLE_COLUMNS} FROM condition_samples"
        " WHERE code = ? AND at < ? ORDER BY at",
        (code, cutoff),
    ).fetchall()
    by_day: dict[int, list[Any]] = {}
    for row in rows:
        by_day.setdefault(row[1] // DAY_US, []).append(row)
    for day, items in by_day.items():
        found = db.execute(
            f"SELECT {DAILY_COLUMNS} FROM condition_daily WHERE code = ? AND day = ?",
            (code, day),
        ).fetchone()
        merged = _aggregate(code, day, items, found)
        db.execute("DELETE FROM condition_daily WHERE code = ? AND day = ?", (code, day))
        marks = ", ".join("?" * len(merged))
        db.execute(f"INSERT INTO condition_daily ({DAILY_COLUMNS}) VALUES ({marks})", merged)
    db.execute("DELETE FROM condition_samples WHERE code = ? AND at < ?", (code, cutoff))
    return len(rows), len(by_day)


def _aggregate(code: str, day: int, rows: list[Any], found: Any) -> tuple[Any, ...]:
    """A day's aggregate from its raw rows, merged into an earlier aggregate of that day."""
    n = len(rows)
    first, last = rows[0][1], rows[-1][1]
    bmin = min(r[3] for r in rows)
    bmax = max(r[3] for r in rows)
    bsum = sum(r[3] for r in rows)
    psum = sum(r[5] for r in rows)
    pmax = max(r[5] for r in rows)
    latest = rows[-1]
    wear: dict[str, float] = {}
    batches: dict[str, int] = {}
    for r in rows:
        for w in orjson.loads(r[7]):
            wear[w["joint"]] = max(wear.get(w["joint"], 0.0), w["wear_pct"])
        batches[str(r[0])] = batches.get(str(r[0]), 0) + 1
    hours, cycles, stress = latest[2], latest[4], latest[6]
    if found is not None:
        (_, _, n0, f0, l0, h0, bmin0, bsum0, bmax0, c0, psum0, pmax0, s0, w0, b0) = found
        for w in orjson.loads(w0):
            wear[w["joint"]] = max(wear.get(w["joint"], 0.0), w["wear_pct"])
        for seq, k in orjson.loads(b0).items():
            batches[seq] = batches.get(seq, 0) + k
        if l0 > last:
            last, hours, cycles, stress = l0, h0, c0, s0
        n, first = n + n0, min(first, f0)
        bmin, bmax, bsum = min(bmin, bmin0), max(bmax, bmax0), bsum + bsum0
        psum, pmax = psum + psum0, max(pmax, pmax0)
    joints = [{"joint": j, "wear_pct": v} for j, v in sorted(wear.items())]
    return (
        code, day, n, first, last, hours, bmin, bsum, bmax, cycles, psum, pmax, stress,
        canonical_json(joints).decode(), canonical_json(batches).decode(),
    )  # fmt: skip
