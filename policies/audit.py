"""Append-only, hash-chained log of every disclosure (GDPR Art. 30, PIPL Art. 55-56).

Each row's hash is SHA-256 over the canonical JSON (sorted keys) of its
content, its id and the previous row's hash, like the robots' event logs, so
editing, deleting or reordering any row breaks the chain from there on.
Tokens are never stored, only their `jti`. The SQL is portable (explicit
ids, no AUTOINCREMENT, TEXT columns): `auditdb` runs it on SQLite or
PostgreSQL.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from schema.codec import format_datetime, parse_datetime

from .auditdb import Backend, PostgresBackend, open_backend
from .principal import Principal
from .visibility import Decision

GENESIS = "0" * 64
COLUMNS = (
    "at",
    "issuer",
    "subject",
    "organisation",
    "role",
    "token_id",
    "code",
    "served",
    "denied",
    "purposes",
    "agreements",
    "policy_version",
)
LISTS = frozenset({"served", "denied", "purposes", "agreements"})
SELECT = f"SELECT id, {', '.join(COLUMNS)}, action, prev_hash, hash FROM audit_log"
INSERT = (
    f"INSERT INTO audit_log (id, {', '.join(COLUMNS)}, action, prev_hash, hash) "
    f"VALUES ({', '.join('?' * (len(COLUMNS) + 4))})"
)
VERIFY_BATCH = 1000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One disclosure: who saw which fields of which robot, under which policy."""

    at: datetime
    issuer: str
    subject: str
    organisation: str | None
    role: str
    token_id: str | None
    code: str
    served: tuple[str, ...]
    denied: tuple[str, ...]
    purposes: tuple[str, ...]
    agreements: tuple[str, ...]
    policy_version: str
    action: str | None = None
    """None for a disclosure (a read); `write:TYPE:OUTCOME:DETAIL` for a write, where
    OUTCOME is stored or replayed (DETAIL the event's sequence) or refused (the rule)."""

    @classmethod
    def write(
        cls,
        principal: Principal,
        code: str,
        event_type: str,
        paths: Iterable[str],
        at: datetime,
        outcome: str,
        detail: str,
        policy_version: str,
    ) -> AuditRecord:
        """The record of a write: the paths it wrote (`served`) or tried to (`denied`)."""
        written = tuple(sorted(paths))
        refused = outcome == "refused"
        return cls(
            at=at,
            issuer=principal.issuer,
            subject=principal.subject,
            organisation=principal.organisation,
            role=principal.role.value,
            token_id=principal.token_id,
            code=code,
            served=() if refused else written,
            denied=written if refused else (),
            purposes=tuple(sorted(principal.purposes)),
            agreements=(),
            policy_version=policy_version,
            action=f"write:{event_type}:{outcome}:{detail}",
        )

    @classmethod
    def disclosure(
        cls,
        principal: Principal,
        code: str,
        decision: Decision,
        at: datetime,
        requested: Iterable[str] | None = None,
    ) -> AuditRecord:
        """The record for serving `requested` paths (default: the whole mask)."""
        mask = decision.mask
        if requested is None:
            return cls.outcome(principal, code, decision, at, mask.visible, mask.denied)
        wanted = set(requested)
        served = {p for p in wanted if p in mask}
        return cls.outcome(principal, code, decision, at, served, wanted - served)

    @classmethod
    def outcome(
        cls,
        principal: Principal,
        code: str,
        decision: Decision,
        at: datetime,
        served: Iterable[str],
        denied: Iterable[str],
    ) -> AuditRecord:
        """The record of what a response held (`served`) and withheld (`denied`).

        A path served anywhere in the response is not also listed as denied.
        """
        shown = frozenset(served)
        return cls(
            at=at,
            issuer=principal.issuer,
            subject=principal.subject,
            organisation=principal.organisation,
            role=principal.role.value,
            token_id=principal.token_id,
            code=code,
            served=tuple(sorted(shown)),
            denied=tuple(sorted(set(denied) - shown)),
            purposes=tuple(sorted(principal.purposes)),
            agreements=decision.agreements,
            policy_version=decision.policy_version,
        )

    def plain(self) -> dict[str, Any]:
        """JSON-ready fields (what is hashed); built directly, as `asdict` deep-copies."""
        out = {c: getattr(self, c) for c in COLUMNS}
        out["at"] = format_datetime(self.at)
        for key in LISTS:
            out[key] = list(out[key])
        if self.action is not None:  # absent for reads: records before writes hash as before
            out["action"] = self.action
        return out


@dataclass(frozen=True, slots=True)
class StoredRecord:
    id: int
    record: AuditRecord
    prev_hash: str
    hash: str


def record_hash(id: int, plain: dict[str, Any], prev: str) -> str:
    body = {**plain, "id": id, "prev": prev}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class AuditLog:
    """The disclosure log in SQLite (a path) or PostgreSQL (a URL), safe across threads.

    Appenders in other processes, or other hosts for PostgreSQL, are serialised
    by the database, so every writer extends one chain.
    """

    def __init__(self, target: str | Path) -> None:
        self._db: Backend = open_backend(target)
        self._lock = threading.Lock()

    @property
    def remote(self) -> bool:
        """True when a write waits on the network: callers in an event loop should offload it."""
        return isinstance(self._db, PostgresBackend)

    def close(self) -> None:
        self._db.close()

    def append(self, record: AuditRecord) -> StoredRecord:
        """Add one record at the head of the chain, atomically."""
        return self.append_many([record])[0]

    def append_many(self, records: Sequence[AuditRecord]) -> list[StoredRecord]:
        """Add records in order in one transaction: all of them or none."""
        if not records:
            return []
        with self._lock, self._db.appending():
            head = self._db.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
            id_, prev = (head[0][0], head[0][1]) if head else (0, GENESIS)
            stored, rows = [], []
            for record in records:
                plain = record.plain()
                id_ += 1
                digest = record_hash(id_, plain, prev)
                columns = (_column(plain[c], c) for c in COLUMNS)
                rows.append([id_, *columns, record.action, prev, digest])
                stored.append(StoredRecord(id_, record, prev, digest))
                prev = digest
            self._db.insert(INSERT, rows)
        return stored

    def trail(self, code: str, first: int = 100, after: int | None = None) -> list[StoredRecord]:
        """Disclosures of one robot, oldest first, `first` rows after id `after`."""
        with self._lock:
            rows = self._db.query(
                f"{SELECT} WHERE code = ? AND id > ? ORDER BY id LIMIT ?",
                (code, after or 0, first),
            )
        return [_stored(row) for row in rows]

    def head(self) -> tuple[int, str]:
        """The last id and its hash: note it elsewhere to detect a truncated tail later."""
        with self._lock:
            rows = self._db.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)

    def verify(self) -> int | None:
        """Re-compute the whole chain; the id of the first row that does not hold."""
        prev, expected = GENESIS, 1
        for row in self._rows():
            id_, raw, prev_hash, digest = row[0], row[1:-3], row[-2], row[-1]
            try:
                plain = {c: _value(v, c) for c, v in zip(COLUMNS, raw, strict=True)}
            except ValueError:
                return id_
            if row[-3] is not None:
                plain["action"] = row[-3]
            if id_ != expected or prev_hash != prev or record_hash(id_, plain, prev) != digest:
                return expected if id_ > expected else id_
            prev, expected = digest, expected + 1
        return None

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        """Every row in id order, a batch at a time, so memory stays flat on a long log."""
        last = -1
        while True:
            with self._lock:
                batch = self._db.query(
                    f"{SELECT} WHERE id > ? ORDER BY id LIMIT ?", (last, VERIFY_BATCH)
                )
            yield from batch
            if len(batch) < VERIFY_BATCH:
                return
            last = batch[-1][0]


def _column(value: Any, name: str) -> Any:
    return orjson.dumps(value).decode() if name in LISTS else value


def _value(value: Any, name: str) -> Any:
    return orjson.loads(value) if name in LISTS else value


def _stored(row: tuple[Any, ...]) -> StoredRecord:
    plain = {c: _value(v, c) for c, v in zip(COLUMNS, row[1:-3], strict=True)}
    record = AuditRecord(
        **{
            **plain,
            "at": parse_datetime(plain["at"]),
            **{k: tuple(plain[k]) for k in LISTS},
        },
        action=row[-3],
    )
    return StoredRecord(row[0], record, row[-2], row[-1])
