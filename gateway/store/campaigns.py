"""Campaigns in the registry store: issue, fan out robot by robot, count, exempt.

Issuing stores the campaign only; `run_campaign` then scans the robots in code
order, a batch per transaction. In each batch every robot the selector reaches
gets the campaign's chained event (RECALL_ISSUED or UPDATE_MANDATED; none for
an end-of-life obligation), a row in `campaign_robots` and its count, and the
scan's position is saved in the same transaction. So a crash loses at most the
batch in flight, and running the campaign again resumes after the last batch
that committed: no robot gets its event twice (its row is checked, and the
event's idempotency key `campaign:<id>:<code>` is unique). A robot registered
later is reached when it registers (`reach_new`, called by `import_histories`).

The code-only criteria run before a snapshot is decoded, and a selector that
fixes the code's first segments limits the scan to that range of codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.store import campaign_rows
from gateway.store.chaining import append_event
from gateway.store.cursors import decode_code, decode_cursor, encode_cursor, not_issued
from gateway.store.errors import IdempotencyConflict, StoreError, UnknownRobot
from gateway.store.sql import Db, dumps, with_limit
from schema.campaign_source import (
    CampaignFilter,
    CampaignRecord,
    CampaignRobot,
    OwnerRows,
    Progress,
    StateCount,
)
from schema.campaigns import (
    ID,
    Campaign,
    RobotState,
    applies,
    campaign_event,
    code_matches,
)
from schema.codec import format_datetime, from_plain, parse_datetime, to_plain
from schema.events import payload_of
from schema.passport import Passport
from schema.source import Page


class UnknownCampaign(StoreError):
    code = "NOT_FOUND"


def event_key(campaign_id: str, code: str) -> str:
    """The idempotency key of the event a campaign appends to one robot."""
    return f"campaign:{campaign_id}:{code}"


def _prefix(campaign: Campaign) -> str:
    """The leading code characters every robot the selector reaches shares."""
    s = campaign.selector
    if s.registry_country is None:
        return ""
    if s.manufacturer_code is None:
        return s.registry_country
    return s.registry_country + s.manufacturer_code + (s.model_code or "")


CAMPAIGN_COLUMNS = (
    "body, scanned, done,"
    " (SELECT CAST(COALESCE(SUM(robots), 0) AS BIGINT) FROM campaign_country_counts"
    " WHERE campaign_id = c.id)"
)


def _campaign_after(cursor: str | None) -> str:
    if cursor is None:
        return ""
    key = decode_cursor("cmp", cursor)
    if not ID.fullmatch(key):
        raise not_issued(cursor)
    return key


class CampaignStore:
    """Campaign methods of `Store` (a mixin: the store brings the connection)."""

    registry: str
    lock_row: str
    _write: Callable[..., Any]
    _reading: Callable[..., Any]
    _lock_feed: Callable[..., Any]

    def issue_campaign(self, campaign: Campaign) -> tuple[CampaignRecord, bool]:
        """Store a campaign; the same one again is answered as stored, another under its id
        is `IdempotencyConflict`. Returns the record and whether it was new."""
        digest = campaign.digest()

        def work(db: Db) -> bool:
            row = db.execute("SELECT digest FROM campaigns WHERE id = ?", (campaign.id,)).fetchone()
            if row is not None:
                if row[0] != digest:
                    raise IdempotencyConflict(
                        f"campaign {campaign.id} was issued before with other terms"
                    )
                return False
            db.execute(
                "INSERT INTO campaigns (id, kind, issuer_id, issuer_jurisdiction, issued_at, body,"
                " digest, scan_after, scanned, done) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, 0)",
                (
                    campaign.id,
                    campaign.kind.value,
                    campaign.issuer.organisation_id,
                    campaign.issuer.jurisdiction,
                    format_datetime(campaign.issued_at),
                    dumps(to_plain(campaign)),
                    digest,
                ),
            )
            return True

        created = self._write(work)
        record = self.campaign(campaign.id)
        assert record is not None
        return record, created

    def run_campaign(
        self, campaign_id: str, batch: int = 500, budget: int | None = None
    ) -> Progress:
        """Fan out until done, or until `budget` robots were examined; resumable."""
        examined = 0
        while True:
            size = batch if budget is None else min(batch, budget - examined)
            progress, seen = self._write(lambda db, size=size: self._batch(db, campaign_id, size))
            examined += seen
            if progress.done or (budget is not None and examined >= budget):
                return progress

    def _batch(self, db: Db, campaign_id: str, size: int) -> tuple[Progress, int]:
        row = db.execute(
            "SELECT body, scan_after, scanned, done FROM campaigns WHERE id = ?" + self.lock_row,
            (campaign_id,),
        ).fetchone()
        if row is None:
            raise UnknownCampaign(f"no campaign {campaign_id}")
        body, after, scanned, done = row
        campaign = campaign_rows.decode_campaign(body)
        if done:
            return Progress(scanned, self._reached(db, campaign_id), True), 0
        prefix = _prefix(campaign)
        sql = "SELECT code, head_sequence, head_hash, snapshot FROM robots WHERE code > ?"
        params: list[Any] = [max(after or "", prefix)]
        if prefix:
            sql += " AND code < ?"
            params.append(prefix + "~")
        # The rows are locked as they are read (PostgreSQL; SQLite's writer holds the
        # file), so the passports decoded here are the ones the appends chain onto.
        sql, params = with_limit(sql + " ORDER BY code", params, size)
        rows = db.execute(sql + self.lock_row, params).fetchall()
        now = datetime.now(UTC)
        for code, sequence, head, snapshot in rows:
            if code_matches(campaign.selector, code) and not self._has_row(db, campaign_id, code):
                passport = from_plain(Passport, orjson.loads(snapshot))
                if applies(campaign, passport):
                    self._reach(db, campaign, passport, now, (sequence, head))
        finished = len(rows) < size
        last = rows[-1][0] if rows else after
        db.execute(
            "UPDATE campaigns SET scan_after = ?, scanned = ?, done = ? WHERE id = ?",
            (last, scanned + len(rows), 1 if finished else 0, campaign_id),
        )
        reached = self._reached(db, campaign_id)
        return Progress(scanned + len(rows), reached, finished), len(rows)

    @staticmethod
    def _has_row(db: Db, campaign_id: str, code: str) -> bool:
        found = db.execute(
            "SELECT 1 FROM campaign_robots WHERE campaign_id = ? AND code = ?", (campaign_id, code)
        ).fetchone()
        return found is not None

    @staticmethod
    def _reached(db: Db, campaign_id: str) -> int:
        return db.execute(
            "SELECT CAST(COALESCE(SUM(robots), 0) AS BIGINT) FROM campaign_country_counts"
            " WHERE campaign_id = ?",
            (campaign_id,),
        ).fetchone()[0]

    def _reach(
        self,
        db: Db,
        campaign: Campaign,
        passport: Passport,
        now: datetime,
        head: tuple[int, str] | None = None,
    ) -> None:
        """Append the campaign's event to one robot and put it under the campaign.

        `head` is the robot's head when `passport` was read under the row lock in
        this transaction; without it the append reads the robot again.
        """
        made = campaign_event(campaign)
        if made is not None:
            type_, body = made
            at = max(campaign.issued_at, passport.identity.registered_at)
            payload = payload_of(type_, body)
            _, passport = append_event(
                db,
                passport.code,
                type_,
                lambda _current: (payload, at),
                registry=self.registry,
                lock_row=self.lock_row,
                key=event_key(campaign.id, passport.code),
                lock_feed=self._lock_feed,
                locked=None if head is None else (head[0], head[1], passport),
            )
        campaign_rows.insert(db, campaign, passport, format_datetime(now))

    def reach_new(self, db: Db, registered: Iterable[Passport]) -> None:
        """Robots just registered: every campaign whose selector reaches them does.

        `registered` is read only when there is a campaign (a bulk import decodes
        each passport from its snapshot for it, which costs as much as the rest)."""
        campaigns = [
            campaign_rows.decode_campaign(body)
            for (body,) in db.execute("SELECT body FROM campaigns ORDER BY id").fetchall()
        ]
        if not campaigns:
            return
        passports = list(registered)
        now = datetime.now(UTC)
        for campaign in campaigns:
            for passport in passports:
                if applies(campaign, passport) and not self._has_row(
                    db, campaign.id, passport.code
                ):
                    self._reach(db, campaign, passport, now)

    def unfinished_campaigns(self) -> list[str]:
        """Campaigns whose fan-out has not reached the end (a crash, a stop midway)."""
        with self._reading() as db:
            rows = db.execute("SELECT id FROM campaigns WHERE done = 0 ORDER BY id").fetchall()
        return [r[0] for r in rows]

    # -- reads ----------------------------------------------------------------

    def campaign(self, campaign_id: str) -> CampaignRecord | None:
        with self._reading() as db:
            row = db.execute(
                f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns c WHERE id = ?", (campaign_id,)
            ).fetchone()
        return _record(row) if row else None

    def campaigns(
        self, where: CampaignFilter, first: int, after: str | None = None
    ) -> Page[CampaignRecord]:
        """Campaigns in id order, filtered by kind and issuer."""
        clauses, params = ["id > ?"], [_campaign_after(after)]
        if where.kind is not None:
            clauses.append("kind = ?")
            params.append(where.kind)
        if where.issuer_id is not None:
            clauses.append("issuer_id = ?")
            params.append(where.issuer_id)
        sql = f"SELECT {CAMPAIGN_COLUMNS}, id FROM campaigns c WHERE " + " AND ".join(clauses)
        with self._reading() as db:
            rows = db.execute(*with_limit(sql + " ORDER BY id", params, first + 1)).fetchall()
        shown = rows[:first]
        return Page(
            [_record(r[:4]) for r in shown],
            [encode_cursor("cmp", r[4]) for r in shown],
            len(rows) > first,
        )

    def campaign_counts(self, campaign_id: str, owner_id: str | None = None) -> list[StateCount]:
        """Counts by owner country and owner (of one owner, with `owner_id`), zeros left out.

        The maintained aggregate: never a scan of the robots. Its rows are as many as
        the campaign has (country, owner, state) triples.
        """
        sql = (
            "SELECT country, owner_id, state, robots FROM campaign_counts"
            " WHERE campaign_id = ? AND robots <> 0"
        )
        params = [campaign_id]
        if owner_id is not None:
            sql, params = sql + " AND owner_id = ?", [*params, owner_id]
        with self._reading() as db:
            rows = db.execute(sql + " ORDER BY country, owner_id, state", params).fetchall()
        return [StateCount(c, o, RobotState(s), n) for c, o, s, n in rows]

    def campaign_country_counts(self, campaign_id: str) -> list[StateCount]:
        """Counts by owner country only (`owner_id` ''): a few rows whatever the fleet."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT country, state, robots FROM campaign_country_counts"
                " WHERE campaign_id = ? AND robots <> 0 ORDER BY country, state",
                (campaign_id,),
            ).fetchall()
        return [StateCount(c, "", RobotState(s), n) for c, s, n in rows]

    def campaign_owner_counts(
        self,
        campaign_id: str,
        first: int,
        after: tuple[str, str] | None = None,
        owner_id: str | None = None,
        countries: tuple[str, ...] = (),
    ) -> OwnerRows:
        """The per-owner aggregate's rows of the first `first` owners after the key
        `after` (owner country, owner), in key order, of one owner or some countries.

        Two reads of the primary key's order: the owners of the page (first + 1, to
        know whether more follow), then their rows. The columns sort bytewise on both
        dialects (migration 0008), the order the gateway merges nodes' pages in.
        """
        where = " WHERE campaign_id = ? AND robots <> 0"
        params: list[Any] = [campaign_id]
        if owner_id is not None:
            where, params = where + " AND owner_id = ?", [*params, owner_id]
        if countries:
            where += f" AND country IN ({', '.join('?' * len(countries))})"
            params.extend(countries)
        start = ""
        if after is not None:
            start = " AND (country > ? OR (country = ? AND owner_id > ?))"
            params.extend([after[0], after[0], after[1]])
        with self._reading() as db:
            keys = db.execute(
                *with_limit(
                    "SELECT DISTINCT country, owner_id FROM campaign_counts"
                    + where
                    + start
                    + " ORDER BY country, owner_id",
                    params,
                    first + 1,
                )
            ).fetchall()
            if not keys[:first]:
                return OwnerRows([], False)
            last = keys[:first][-1]
            rows = db.execute(
                "SELECT country, owner_id, state, robots FROM campaign_counts"
                + where
                + start
                + " AND (country < ? OR (country = ? AND owner_id <= ?))"
                " ORDER BY country, owner_id, state",
                [*params, last[0], last[0], last[1]],
            ).fetchall()
        counts = [StateCount(c, o, RobotState(s), n) for c, o, s, n in rows]
        return OwnerRows(counts, len(keys) > first)

    def campaign_robots(
        self,
        campaign_id: str,
        first: int,
        after: str | None = None,
        states: tuple[RobotState, ...] = (),
        countries: tuple[str, ...] = (),
    ) -> Page[CampaignRobot]:
        """The robots of a campaign in code order, by stored state and owner country.

        OVERDUE asks for PENDING rows once the deadline has passed, PENDING for
        them before it; the caller resolves that (it knows the campaign and the time)
        and passes stored states only.
        """
        sql = (
            "SELECT code, state, country, owner_id, reason, updated_at FROM campaign_robots"
            " WHERE campaign_id = ? AND code > ?"
        )
        params: list[Any] = [campaign_id, decode_code("code", after) if after else ""]
        for column, values in (("state", [s.value for s in states]), ("country", countries)):
            if values:
                sql += f" AND {column} IN ({', '.join('?' * len(values))})"
                params.extend(values)
        with self._reading() as db:
            rows = db.execute(*with_limit(sql + " ORDER BY code", params, first + 1)).fetchall()
        items = [_robot(r) for r in rows[:first]]
        return Page(items, [encode_cursor("code", r.code) for r in items], len(rows) > first)

    def robot_campaigns(self, code: str) -> list[tuple[Campaign, CampaignRobot]]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT c.body, r.code, r.state, r.country, r.owner_id, r.reason, r.updated_at"
                " FROM campaign_robots r JOIN campaigns c ON c.id = r.campaign_id"
                " WHERE r.code = ? ORDER BY c.issued_at, c.id",
                (code,),
            ).fetchall()
        return [(campaign_rows.decode_campaign(r[0]), _robot(r[1:])) for r in rows]

    def exempt(self, campaign_id: str, code: str, reason: str) -> CampaignRobot:
        """Exempt one robot with a reason; its count moves to EXEMPTED."""

        def work(db: Db) -> CampaignRobot:
            row = db.execute(
                "SELECT state, country, owner_id FROM campaign_robots"
                " WHERE campaign_id = ? AND code = ?" + self.lock_row,
                (campaign_id, code),
            ).fetchone()
            if row is None:
                if db.execute("SELECT 1 FROM campaigns WHERE id = ?", (campaign_id,)).fetchone():
                    raise UnknownRobot(f"robot {code} is not under campaign {campaign_id}")
                raise UnknownCampaign(f"no campaign {campaign_id}")
            state, country, owner = row
            now = format_datetime(datetime.now(UTC))
            db.execute(
                "UPDATE campaign_robots SET state = ?, reason = ?, updated_at = ?"
                " WHERE campaign_id = ? AND code = ?",
                (RobotState.EXEMPTED.value, reason, now, campaign_id, code),
            )
            campaign_rows.count(db, campaign_id, country, owner, state, -1)
            campaign_rows.count(db, campaign_id, country, owner, RobotState.EXEMPTED.value, 1)
            return CampaignRobot(
                code, RobotState.EXEMPTED, country, owner, reason, parse_datetime(now)
            )

        return self._write(work)


def _record(row: tuple[Any, ...]) -> CampaignRecord:
    body, scanned, done, reached = row
    progress = Progress(scanned, reached, bool(done))
    return CampaignRecord(campaign_rows.decode_campaign(body), progress)


def _robot(row: tuple[Any, ...]) -> CampaignRobot:
    code, state, country, owner, reason, updated = row
    return CampaignRobot(code, RobotState(state), country, owner, reason, parse_datetime(updated))
