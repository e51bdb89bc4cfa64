"""Append-only, hash-chained log of every disclosure (GDPR Art. 30, PIPL Art. 55-56).

Each row's hash is SHA-256 over the canonical JSON (sorted keys) of its
content, its id and the previous row's hash, like the robots' event logs, so
editing, deleting or reordering any row breaks the chain from there on.
Tokens are never stored, only their `jti`. Plain sqlite3 with portable SQL
(explicit ids, no AUTOINCREMENT, TEXT columns) so a PostgreSQL backend can
follow with the same statements.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from schema.codec import format_datetime, parse_datetime

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

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    organisation TEXT,
    role TEXT NOT NULL,
    token_id TEXT,
    code TEXT NOT NULL,
    served TEXT NOT NULL,
    denied TEXT NOT NULL,
    purposes TEXT NOT NULL,
    agreements TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""
INDEX = "CREATE INDEX IF NOT EXISTS audit_log_code ON audit_log (code, id)"


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
            served, denied = mask.visible, mask.denied
        else:
            wanted = set(requested)
            served = {p for p in wanted if p in mask}
            denied = wanted - served
        return cls(
            at=at,
            issuer=principal.issuer,
            subject=principal.subject,
            organisation=principal.organisation,
            role=principal.role.value,
            token_id=principal.token_id,
            code=code,
            served=tuple(sorted(served)),
            denied=tuple(sorted(denied)),
            purposes=tuple(sorted(principal.purposes)),
            agreements=decision.agreements,
            policy_version=decision.policy_version,
        )

    def plain(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = format_datetime(self.at)
        for key in LISTS:
            out[key] = list(out[key])
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
    """The disclosure log in one SQLite file (WAL), safe across threads."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self._db.execute(INDEX)

    def close(self) -> None:
        self._db.close()

    def append(self, record: AuditRecord) -> StoredRecord:
        """Add one record at the head of the chain, atomically."""
        plain = record.plain()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                head = self._db.execute(
                    "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
                ).fetchone()
                id_, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
                digest = record_hash(id_, plain, prev)
                values = [_column(plain[c], c) for c in COLUMNS]
                self._db.execute(
                    f"INSERT INTO audit_log (id, {', '.join(COLUMNS)}, prev_hash, hash) "
                    f"VALUES ({', '.join('?' * (len(COLUMNS) + 3))})",
                    [id_, *values, prev, digest],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return StoredRecord(id_, record, prev, digest)

    def trail(self, code: str, first: int = 100, after: int | None = None) -> list[StoredRecord]:
        """Disclosures of one robot, oldest first, `first` rows after id `after`."""
        rows = self._db.execute(
            f"SELECT id, {', '.join(COLUMNS)}, prev_hash, hash FROM audit_log "
            "WHERE code = ? AND id > ? ORDER BY id LIMIT ?",
            (code, after or 0, first),
        ).fetchall()
        return [_stored(row) for row in rows]

    def verify(self) -> int | None:
        """Re-compute the whole chain; the id of the first row that does not hold."""
        prev, expected = GENESIS, 1
        for row in self._rows():
            id_, raw, prev_hash, digest = row[0], row[1:-2], row[-2], row[-1]
            try:
                plain = {c: _value(v, c) for c, v in zip(COLUMNS, raw, strict=True)}
            except ValueError:
                return id_
            if id_ != expected or prev_hash != prev or record_hash(id_, plain, prev) != digest:
                return expected if id_ > expected else id_
            prev, expected = digest, expected + 1
        return None

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        cursor = self._db.execute(
            f"SELECT id, {', '.join(COLUMNS)}, prev_hash, hash FROM audit_log ORDER BY id"
        )
        while batch := cursor.fetchmany(1000):
            yield from batch


def _column(value: Any, name: str) -> Any:
    return orjson.dumps(value).decode() if name in LISTS else value


def _value(value: Any, name: str) -> Any:
    return orjson.loads(value) if name in LISTS else value


def _stored(row: tuple[Any, ...]) -> StoredRecord:
    plain = {c: _value(v, c) for c, v in zip(COLUMNS, row[1:-2], strict=True)}
    record = AuditRecord(
        **{
            **plain,
            "at": parse_datetime(plain["at"]),
            **{k: tuple(plain[k]) for k in LISTS},
        }
    )
    return StoredRecord(row[0], record, row[-2], row[-1])
