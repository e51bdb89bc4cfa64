"""Re-hashing stored logs in bulk, for `robopass registry verify` over millions of robots.

A restored registry is verified robot by robot, but read page by page: the
heads, events and raw telemetry of a range of codes come from one snapshot (a
robot's head and log always agree in it, so a concurrent append is never
mistaken for a broken chain; a condition batch and its samples commit together,
so they agree too) in three or four queries, not two per robot and one per
batch. Each event is decoded once and serves both the chain's check and the
telemetry batches' check. The checks themselves are pure functions of rows
(`check_log`, `check_batches`): `Store.verify_chain` uses the same one, so the
per-robot answer and the bulk answer cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import orjson

from gateway.store.errors import UnknownRobot
from gateway.store.sql import EVENT_COLUMNS, row_event
from gateway.store.telemetry import SAMPLE_COLUMNS, BatchCheck, batch_check
from schema.events import ChainReport, Event, EventType, verify
from schema.source import Head

ROBOT_PAGE = 500
"""Robots per page: a few megabytes of rows and well under a second of checking."""

INGESTED = EventType.CONDITIONS_INGESTED.value
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RobotVerdict:
    """One robot's chain report and the telemetry batches whose digest failed."""

    code: str
    chain: ChainReport
    broken_batches: tuple[BatchCheck, ...] = ()

    @property
    def verified(self) -> bool:
        return self.chain.verified and not self.broken_batches


@dataclass(frozen=True, slots=True)
class PageVerdict:
    """A page of robots checked: how many, and the verdicts of those that failed.

    Only the failures travel back from a worker process: a page of a clean
    registry is two integers."""

    checked: int
    broken: tuple[RobotVerdict, ...]


def check_log(
    head: Head, rows: Sequence[Row], through: int | None = None
) -> tuple[ChainReport, list[Event]]:
    """Re-hash a robot's log rows (EVENT_COLUMNS, in sequence order) against its head.

    The first bad sequence is reported, a row that does not decode and a log
    that ends before its head (truncation) included. `through` checks the log
    up to that sequence only (a past view), so nothing after it is reported.
    Returns the report and the events decoded, for the telemetry check.
    """
    events: list[Event] = []
    for row in rows:
        try:
            events.append(row_event(row))
        except ValueError:
            report = verify(events)
            if report.verified:
                return ChainReport(len(events), report.head_hash, row[1], "row does not decode"), []
            return report, []
    report = verify(events)
    if through is not None and through < head.sequence:
        if report.verified and report.length != through:
            bad = report.length + 1
            return ChainReport(report.length, report.head_hash, bad, "log ends early"), events
        return report, events
    if report.verified and (report.length, report.head_hash) != (head.sequence, head.hash):
        bad = min(report.length, head.sequence) + 1
        return ChainReport(report.length, report.head_hash, bad, "log and head disagree"), events
    return report, events


def rolled_batches(texts: Sequence[str]) -> dict[int, int]:
    """How many samples of each batch the robot's daily aggregates absorbed (`batches`)."""
    rolled: dict[int, int] = {}
    for text in texts:
        for seq, n in orjson.loads(text).items():
            rolled[int(seq)] = rolled.get(int(seq), 0) + n
    return rolled


def check_batches(
    events: Sequence[Event], samples: Mapping[int, list[Row]], rolled: Mapping[int, int]
) -> list[BatchCheck]:
    """Every condition batch of `events` against its raw samples (SAMPLE_COLUMNS rows in
    time order, by batch) and the samples rolled up from it."""
    return [
        batch_check(e, e.payload["count"], samples.get(e.sequence, []), rolled.get(e.sequence, 0))
        for e in events
        if e.type is EventType.CONDITIONS_INGESTED
    ]


class VerifyStore:
    """Bulk verification methods of `gateway.store.base.Store` (a mixin: it brings the
    connection)."""

    _snapshot: Callable[..., Any]
    _reading: Callable[..., Any]
    registry: str

    def range_ends(self, page: int = ROBOT_PAGE) -> Iterator[tuple[str, str]]:
        """Ranges (after, upto] of `page` robot codes each, in code order, from the start.

        Keyset paging on the primary key: each step costs the same at the millionth
        robot as at the first. A robot stored meanwhile falls into a range or not."""
        after = ""
        while True:
            with self._reading() as db:
                rows = db.execute(
                    "SELECT code FROM robots WHERE code > ? ORDER BY code LIMIT ?", (after, page)
                ).fetchall()
            if not rows:
                return
            yield after, rows[-1][0]
            if len(rows) < page:
                return
            after = rows[-1][0]

    def verify_range(self, after: str, upto: str) -> PageVerdict:
        """Check every robot with a code in (after, upto]: chains, heads, telemetry batches."""
        verdicts = self._verify_where("code > ? AND code <= ?", (after, upto))
        return PageVerdict(len(verdicts), tuple(v for v in verdicts if not v.verified))

    def verify_robot(self, code: str) -> RobotVerdict:
        """Check one robot as `verify_range` checks each of a page."""
        verdicts = self._verify_where("code = ?", (code,))
        if not verdicts:
            raise UnknownRobot(f"no robot {code} in registry {self.registry}")
        return verdicts[0]

    def _verify_where(self, where: str, params: tuple[str, ...]) -> list[RobotVerdict]:
        """Each robot matching `where`, in code order, checked."""
        with self._snapshot() as db:
            heads = db.execute(
                f"SELECT code, head_sequence, head_hash FROM robots WHERE {where} ORDER BY code",
                params,
            ).fetchall()
            rows = db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY code, sequence",
                params,
            ).fetchall()
            daily: list[Row] = []
            samples: list[Row] = []
            # The synthetic and most imported registries hold no condition batch: two
            # queries fewer per page. The type column is compared before any decoding.
            if any(row[3] == INGESTED for row in rows):
                daily = db.execute(
                    f"SELECT code, batches FROM condition_daily WHERE {where}", params
                ).fetchall()
                samples = db.execute(
                    f"SELECT code, batch, {SAMPLE_COLUMNS} FROM condition_samples"
                    f" WHERE {where} ORDER BY code, batch, at",
                    params,
                ).fetchall()
        logs = {code: list(group) for code, group in groupby(rows, key=lambda r: r[0])}
        rolled: dict[str, list[str]] = {}
        for code, text in daily:
            rolled.setdefault(code, []).append(text)
        raw: dict[str, dict[int, list[Row]]] = {}
        for row in samples:
            raw.setdefault(row[0], {}).setdefault(row[1], []).append(row[2:])
        verdicts = []
        for code, sequence, hash_ in heads:
            report, events = check_log(Head(sequence, hash_), logs.get(code, []))
            if not report.verified:
                verdicts.append(RobotVerdict(code, report))
                continue
            checks = check_batches(events, raw.get(code, {}), rolled_batches(rolled.get(code, [])))
            broken = tuple(c for c in checks if c.verified is False)
            verdicts.append(RobotVerdict(code, report, broken))
        return verdicts
