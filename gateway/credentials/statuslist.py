"""Token Status List (IETF OAuth draft): which issued passport credentials are revoked.

One list of 1-bit statuses (0 valid, 1 invalid) published as a signed JWT
(`typ: statuslist+jwt`) whose `sub` is the list's URI. A credential names its
place as `status.status_list = {idx, uri}`. Bit `idx` is bit `idx % 8`
(least significant first) of byte `idx // 8`; the bytes travel zlib-compressed
and base64url-encoded in `lst`.

The ledger of who got which index lives next to the issuer's signing key (the
data directory), because it is the issuer's state, like the key: a gateway
over a federation issues credentials without a store of its own. Indices are
drawn at random from a list of `SIZE` entries, so a verifier cannot tell from
an index how many credentials came before it or link two credentials by
neighbouring indices.

A credential is revoked when its robot's ownership changed after issuance:
the ledger keeps the number of ownership entries at issuance, and the list
is computed from the store when published, so no write path needs a hook.
Once set, a bit stays set.
"""

from __future__ import annotations

import secrets
import sqlite3
import zlib
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.credentials.sdjwt import b64url, b64url_decode

__all__ = [
    "LEDGER_FILE",
    "SIZE",
    "STATUS_TYP",
    "IssuedEntry",
    "Ledger",
    "StatusListError",
    "decode_list",
    "encode_list",
]

SIZE = 1 << 16
STATUS_TYP = "statuslist+jwt"
LEDGER_FILE = "credential-status.sqlite"
VALID, INVALID = 0, 1


class StatusListError(ValueError):
    """A status list that cannot be read; the message says why."""


def encode_list(statuses: Iterable[int], size: int = SIZE) -> dict[str, Any]:
    """`{"bits": 1, "lst": ...}` with bit i set for each i in `statuses`."""
    array = bytearray(size // 8)
    for index in statuses:
        array[index // 8] |= 1 << (index % 8)
    return {"bits": 1, "lst": b64url(zlib.compress(bytes(array), 9))}


def decode_list(status_list: Any) -> Callable[[int], int]:
    """A lookup from index to status for a `status_list` claim; raises `StatusListError`."""
    if not isinstance(status_list, dict):
        raise StatusListError("status_list is not an object")
    bits = status_list.get("bits")
    if bits not in (1, 2, 4, 8):
        raise StatusListError(f"status_list bits is {bits!r}, not 1, 2, 4 or 8")
    try:
        array = zlib.decompress(b64url_decode(str(status_list.get("lst", ""))))
    except (ValueError, zlib.error):
        raise StatusListError("status_list lst is not base64url zlib data") from None
    per_byte = 8 // bits
    mask = (1 << bits) - 1

    def status(index: int) -> int:
        byte = index // per_byte
        if index < 0 or byte >= len(array):
            raise StatusListError(f"index {index} is outside the status list")
        return (array[byte] >> ((index % per_byte) * bits)) & mask

    return status


@dataclass(frozen=True, slots=True)
class IssuedEntry:
    idx: int
    code: str
    owners: int
    revoked: bool


class Ledger:
    """The issuer's record of indices given out, in SQLite beside its key."""

    def __init__(self, data_dir: str | Path) -> None:
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / LEDGER_FILE
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS issued (idx INTEGER PRIMARY KEY, code TEXT NOT NULL,"
                " owners INTEGER NOT NULL, issued_at TEXT NOT NULL,"
                " revoked INTEGER NOT NULL DEFAULT 0)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def allocate(self, code: str, owners: int, now: datetime | None = None) -> int:
        """A fresh random index for a credential of `code` issued at `owners` ownership entries."""
        at = (now or datetime.now(UTC)).isoformat()
        with closing(self._connect()) as db:
            for _ in range(64):
                idx = secrets.randbelow(SIZE)
                try:
                    with db:
                        db.execute(
                            "INSERT INTO issued (idx, code, owners, issued_at) VALUES (?, ?, ?, ?)",
                            (idx, code, owners, at),
                        )
                    return idx
                except sqlite3.IntegrityError:
                    continue
        raise StatusListError(f"the status list of {SIZE} entries is (nearly) full")

    def version(self) -> tuple[int, int]:
        """Changes whenever an index is given out or revoked: (issued, revoked)."""
        with closing(self._connect()) as db:
            issued, revoked = db.execute("SELECT count(*), sum(revoked) FROM issued").fetchone()
        return int(issued), int(revoked or 0)

    def entries(self) -> list[IssuedEntry]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT idx, code, owners, revoked FROM issued").fetchall()
        return [IssuedEntry(int(i), str(c), int(o), bool(r)) for i, c, o, r in rows]

    def refresh(self, owners_now: Callable[[str], int | None]) -> list[int]:
        """Revoke every credential whose robot changed hands (or is gone); the revoked indices.

        `owners_now(code)` is the robot's number of ownership entries today,
        None when the store no longer has it.
        """
        newly = []
        for entry in self.entries():
            if entry.revoked:
                continue
            current = owners_now(entry.code)
            if current is None or current != entry.owners:
                newly.append(entry.idx)
        if newly:
            with closing(self._connect()) as db, db:
                db.executemany("UPDATE issued SET revoked = 1 WHERE idx = ?", [(i,) for i in newly])
        return sorted(e.idx for e in self.entries() if e.revoked)
