"""Append-only, hash-chained log of every disclosure (GDPR Art. 30, PIPL Art. 55-56).

Each row commits to its content with a secret salt and its hash chains the
commitment to the previous row's hash (`auditscheme`, scheme 2), so editing,
deleting or reordering any row breaks the chain from there on, while a hash
or commitment shown to the robot's owner says nothing about the requester it
hides. Rows written before scheme 2 (scheme 1, hash over the content) keep
verifying; `auditmigrate` re-commits them. Tokens are never stored, only
their `jti`. The SQL is portable (explicit
ids, no AUTOINCREMENT, TEXT columns): `auditdb` runs it on SQLite or
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from schema.codec import format_datetime, parse_datetime

from . import auditscheme
from .auditdb import Backend, PostgresBackend, open_backend
from .auditgroup import GroupCommit
from .auditscheme import GENESIS
from .principal import Principal
from .visibility import Decision

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
CHAIN = ("action", "scheme", "salt", "commitment", "prev_hash", "hash")
"""The columns after the content, in the order every SELECT and INSERT here uses."""
SELECT = f"SELECT id, {', '.join(COLUMNS + CHAIN)} FROM audit_log"
INSERT = (
    f"INSERT INTO audit_log (id, {', '.join(COLUMNS + CHAIN)}) "
    f"VALUES ({', '.join('?' * (1 + len(COLUMNS) + len(CHAIN)))})"
)
PREV_SCHEME = "(SELECT p.scheme FROM audit_log p WHERE p.id = audit_log.id - 1)"
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
    OUTCOME is stored or replayed (DETAIL the event's sequence) or refused (the rule);
    `campaign:ACT:ID:OUTCOME:DETAIL` for issuing a campaign or exempting a robot from it."""

    @classmethod
    def campaign_act(
        cls,
        principal: Principal,
        act: str,
        campaign_id: str,
        code: str,
        at: datetime,
        outcome: str,
        detail: str,
        policy_version: str,
    ) -> AuditRecord:
        """The record of a campaign act: `issue` (code '': it names no robot; DETAIL the
        robots reached) or `exempt` (the exempted robot's code; DETAIL its new state), or
        either refused (DETAIL the rule)."""
        action = f"campaign:{act}:{campaign_id}:{outcome}:{detail}"
        return cls._act(
            principal, code, ("compliance.campaigns",), at, outcome, action, policy_version
        )

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
        action = f"write:{event_type}:{outcome}:{detail}"
        return cls._act(principal, code, tuple(sorted(paths)), at, outcome, action, policy_version)

    @classmethod
    def _act(
        cls,
        principal: Principal,
        code: str,
        paths: tuple[str, ...],
        at: datetime,
        outcome: str,
        action: str,
        policy_version: str,
    ) -> AuditRecord:
        """An act on the registry (not a read): its paths done (`served`), or tried and
        refused (`denied`)."""
        refused = outcome == "refused"
        return cls(
            at=at,
            issuer=principal.issuer,
            subject=principal.subject,
            organisation=principal.organisation,
            role=principal.role.value,
            token_id=principal.token_id,
            code=code,
            served=() if refused else paths,
            denied=paths if refused else (),
            purposes=tuple(sorted(principal.purposes)),
            agreements=(),
            policy_version=policy_version,
            action=action,
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
    """A record as the chain holds it.

    `salt` opens `commitment` (scheme 2) and is as secret as the record's
    hidden fields. `prev_scheme` is the previous row's scheme (the scheme of
    what `prev_hash` hashes; 2 for the first row), set by `AuditLog.trail`.
    """

    id: int
    record: AuditRecord
    prev_hash: str
    hash: str
    scheme: int = auditscheme.CURRENT
    salt: str | None = None
    commitment: str | None = None
    prev_scheme: int = auditscheme.CURRENT


record_hash = auditscheme.record_hash


class AuditLog:
    """The disclosure log in SQLite (a path) or PostgreSQL (a URL), safe across threads.

    Appenders in other processes, or other hosts for PostgreSQL, are serialised
    by the database, so every writer extends one chain.
    """

    def __init__(self, target: str | Path, scheme: int = auditscheme.CURRENT) -> None:
        """`scheme` 1 writes legacy rows: only to rebuild a log as it was before scheme 2."""
        if scheme not in auditscheme.SCHEMES:
            raise ValueError(f"unknown audit hash scheme {scheme}")
        self._db: Backend = open_backend(target)
        self._lock = threading.Lock()
        self._scheme = scheme
        self._group: GroupCommit[AuditRecord, StoredRecord] | None = None

    @property
    def backend(self) -> Backend:
        """The connection, for a migration that works on the table itself."""
        return self._db

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
                salt = commit = None
                if self._scheme == auditscheme.SALTED:
                    salt = auditscheme.new_salt()
                    commit = auditscheme.commitment(salt, plain)
                digest = auditscheme.link(self._scheme, id_, plain, salt, commit, prev)
                assert digest is not None
                columns = (_column(plain[c], c) for c in COLUMNS)
                chain = (record.action, self._scheme, salt, commit, prev, digest)
                rows.append([id_, *columns, *chain])
                stored.append(StoredRecord(id_, record, prev, digest, self._scheme, salt, commit))
                prev = digest
            self._db.insert(INSERT, rows)
        return stored

    async def record(self, records: Sequence[AuditRecord]) -> list[StoredRecord]:
        """Append `records` in order and return once they are committed.

        Concurrent callers on one event loop share a transaction (`auditgroup`):
        each still returns only after its own records are durable, and a failed
        transaction raises in every caller it covered.
        """
        loop = asyncio.get_running_loop()
        if self._group is None or self._group.loop is not loop:
            self._group = GroupCommit(self.append_many, offload=self.remote)
        return await self._group.submit(records)

    @property
    def group_commits(self) -> tuple[int, int]:
        """(transactions, requests) `record` committed on the current loop's committer."""
        group = self._group
        return (group.transactions, group.batches) if group is not None else (0, 0)

    def trail(self, code: str, first: int = 100, after: int | None = None) -> list[StoredRecord]:
        """Disclosures of one robot, oldest first, `first` rows after id `after`."""
        with self._lock:
            rows = self._db.query(
                f"SELECT id, {', '.join(COLUMNS + CHAIN)}, {PREV_SCHEME} FROM audit_log"
                " WHERE code = ? AND id > ? ORDER BY id LIMIT ?",
                (code, after or 0, first),
            )
        return [_stored(row[:-1], row[-1]) for row in rows]

    def head(self) -> tuple[int, str]:
        """The last id and its hash: note it elsewhere to detect a truncated tail later."""
        with self._lock:
            rows = self._db.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)

    def verify(self) -> int | None:
        """Re-compute the whole chain; the id of the first row that does not hold."""
        prev, expected = GENESIS, 1
        for row in self.rows():
            if row[0] != expected:
                return expected if row[0] > expected else row[0]
            digest = checked_hash(row, prev)
            if digest is None:
                return row[0]
            prev, expected = digest, expected + 1
        return None

    def rows(self, after: int = 0, batch: int = VERIFY_BATCH) -> Iterator[tuple[Any, ...]]:
        """Raw rows (`SELECT`'s columns) after id `after` in id order, a batch at a time,
        so memory stays flat on a long log."""
        last = after
        while True:
            with self._lock:
                page = self._db.query(f"{SELECT} WHERE id > ? ORDER BY id LIMIT ?", (last, batch))
            yield from page
            if len(page) < batch:
                return
            last = page[-1][0]


def content_of(row: tuple[Any, ...]) -> dict[str, Any]:
    """The hashed content of a raw row; ValueError if a list column is not JSON."""
    plain = {c: _value(v, c) for c, v in zip(COLUMNS, row[1 : 1 + len(COLUMNS)], strict=True)}
    action = row[1 + len(COLUMNS)]
    if action is not None:  # absent for reads: records before writes hash as before
        plain["action"] = action
    return plain


def checked_hash(row: tuple[Any, ...], prev: str) -> str | None:
    """The row's hash if it holds under its own scheme after a row hashed `prev`, else None."""
    scheme, salt, commit, prev_hash, digest = row[-5:]
    if prev_hash != prev:
        return None
    try:
        plain = content_of(row)
    except ValueError:
        return None
    expected = auditscheme.link(scheme, row[0], plain, salt, commit, prev)
    return digest if expected == digest else None


def _column(value: Any, name: str) -> Any:
    return orjson.dumps(value).decode() if name in LISTS else value


def _value(value: Any, name: str) -> Any:
    return orjson.loads(value) if name in LISTS else value


def _stored(row: tuple[Any, ...], prev_scheme: int | None) -> StoredRecord:
    plain = {c: _value(v, c) for c, v in zip(COLUMNS, row[1 : 1 + len(COLUMNS)], strict=True)}
    record = AuditRecord(
        **{
            **plain,
            "at": parse_datetime(plain["at"]),
            **{k: tuple(plain[k]) for k in LISTS},
        },
        action=row[1 + len(COLUMNS)],
    )
    scheme, salt, commit, prev_hash, digest = row[-5:]
    before = auditscheme.CURRENT if prev_scheme is None else prev_scheme
    return StoredRecord(row[0], record, prev_hash, digest, scheme, salt, commit, before)
