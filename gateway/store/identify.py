"""`robopass registry identify`: record party identifiers for passports stored without them.

Relationships are decided by identifier only (schema/parties.py), so an
ownership or deployment entry written before passports carried identifiers
relates to no one. The registry's operator knows which party each stored name
stands for; this command takes that knowledge as a map file and appends one
chained PARTIES_IDENTIFIED event per robot that has entries to identify. The
log stays append-only and verifiable, and a second run finds nothing left to
do, so it appends nothing.

The map is a CSV file with a header `name,id` and optionally `code` (the entry
then applies to that robot only: two private owners may share a name), or a
JSON object `{"name": "id"}`, or a JSON list of `{"name", "id", "code"?}`
objects. A name is matched exactly as stored: this is the operator's own list
of the registry's names, not a caller's claim.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from schema.events import (
    Event,
    EventType,
    IdentifiedParty,
    PartiesIdentified,
    decode_payload,
    payload_of,
)
from schema.parties import PARTY_ID_SYNTAX, is_party_id
from schema.passport import Passport
from schema.source import Head


class MapError(ValueError):
    """The map file cannot be used; the message names the line or entry and what is wrong."""


@dataclass(frozen=True, slots=True)
class PartyMap:
    """Stored names to identifiers: for every robot, and for single robots by code."""

    everywhere: dict[str, str]
    per_robot: dict[tuple[str, str], str]

    def lookup(self, code: str, name: str) -> str | None:
        return self.per_robot.get((code, name), self.everywhere.get(name))


@dataclass(slots=True)
class Summary:
    """What a run did; counts only, since stored names may be personal data."""

    robots: int = 0
    identified_robots: int = 0
    owners: int = 0
    operators: int = 0
    unmatched_names: int = 0
    offers_without_id: int = 0

    def lines(self) -> list[str]:
        return [
            f"{self.identified_robots} of {self.robots} robots identified"
            f" ({self.owners} ownership and {self.operators} deployment entries)",
            f"{self.unmatched_names} stored names without an entry in the map stay unidentified"
            " (no relationship until identified)",
            f"{self.offers_without_id} pending transfer offers name no identifier: no one can"
            " accept them; their owners must offer again",
        ]


class IdentifyStore(Protocol):
    """What the command needs of a registry store."""

    def codes(self, limit: int | None = None) -> list[str]: ...

    def passport(self, code: str) -> Passport | None: ...

    def last_of(self, code: str, types: list[EventType]) -> Event | None: ...

    def head(self, code: str) -> Head | None: ...

    def events(self, code: str, *, after: int = 0, limit: int | None = None) -> list[Event]: ...

    def append(
        self,
        code: str,
        type: EventType,
        payload: dict[str, Any],
        at: datetime,
        *,
        idempotency_key: str | None = None,
    ) -> Event: ...


def load_map(path: str | Path) -> PartyMap:
    """Read a CSV or JSON map; raises `MapError` on the first bad entry."""
    text = Path(path).read_text(encoding="utf-8-sig")
    if Path(path).suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MapError(f"{path}: not JSON ({exc})") from None
        entries = _json_entries(data, str(path))
    else:
        entries = _csv_entries(text, str(path))
    return _party_map(entries)


def plan(passport: Passport, parties: PartyMap) -> tuple[PartiesIdentified | None, set[str]]:
    """The event identifying this passport's unidentified entries, and the names not in the map.

    Pure: the same passport and map give the same event, and a passport whose
    entries are all identified gives None.
    """
    code = passport.code
    owners, operators, unmatched = [], [], set()
    for i, o in enumerate(passport.ownership):
        if o.owner_id is None:
            found = parties.lookup(code, o.owner)
            if found is None:
                unmatched.add(o.owner)
            else:
                owners.append(IdentifiedParty(i, found))
    for i, d in enumerate(passport.deployments):
        if d.operator_id is None:
            found = parties.lookup(code, d.operator)
            if found is None:
                unmatched.add(d.operator)
            else:
                operators.append(IdentifiedParty(i, found))
    if not owners and not operators:
        return None, unmatched
    return PartiesIdentified(datetime.now(UTC), owners, operators), unmatched


def identify(
    store: IdentifyStore, parties: PartyMap, codes: Iterable[str] | None = None
) -> Summary:
    """Append one PARTIES_IDENTIFIED per robot that needs it; idempotent on re-run."""
    summary = Summary()
    unmatched: set[str] = set()
    for code in codes if codes is not None else store.codes():
        passport = store.passport(code)
        if passport is None:
            continue
        summary.robots += 1
        if _offer_without_id(store, code):
            summary.offers_without_id += 1
        body, missing = plan(passport, parties)
        unmatched |= missing
        if body is None:
            continue
        body.at = max(body.at, _last_event_at(store, code))
        payload = payload_of(EventType.PARTIES_IDENTIFIED, body)
        entries = {k: payload[k] for k in ("owners", "operators")}
        digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        store.append(
            code,
            EventType.PARTIES_IDENTIFIED,
            payload,
            body.at,
            idempotency_key=f"identify:{code}:{digest[:32]}",
        )
        summary.identified_robots += 1
        summary.owners += len(body.owners)
        summary.operators += len(body.operators)
    summary.unmatched_names = len(unmatched)
    return summary


def _last_event_at(store: IdentifyStore, code: str) -> datetime:
    """Recorded now, but never before the log's last event: a view as of an earlier
    time must not see identifiers of entries that did not exist yet."""
    head = store.head(code)
    last = store.events(code, after=head.sequence - 1) if head is not None else []
    return last[-1].at if last else datetime.min.replace(tzinfo=UTC)


def _offer_without_id(store: IdentifyStore, code: str) -> bool:
    last = store.last_of(code, [EventType.TRANSFER_OFFERED, EventType.OWNERSHIP_TRANSFERRED])
    if last is None or last.type is not EventType.TRANSFER_OFFERED:
        return False
    return decode_payload(EventType.TRANSFER_OFFERED, last.payload).owner_id is None


def _csv_entries(text: str, where: str) -> list[tuple[str, str, str | None, str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or ())
    if not {"name", "id"} <= header or not header <= {"name", "id", "code"}:
        raise MapError(f"{where}: the CSV header must be name,id (and optionally code)")
    entries = []
    for row in reader:
        line = f"{where} line {reader.line_num}"
        if None in row or any(v is None for v in row.values()):
            raise MapError(f"{line}: expected {len(header)} columns")
        entries.append((row["name"], row["id"], row.get("code") or None, line))
    return entries


def _json_entries(data: Any, where: str) -> list[tuple[str, str, str | None, str]]:
    if isinstance(data, dict):
        return [(k, v, None, f"{where} entry {k!r}") for k, v in data.items()]
    if not isinstance(data, list):
        raise MapError(f"{where}: expected an object of name -> id or a list of entries")
    entries = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not {"name", "id"} <= item.keys() <= {
            "name",
            "id",
            "code",
        }:
            raise MapError(f"{where} entry {i}: expected an object with name, id and maybe code")
        entries.append((item["name"], item["id"], item.get("code"), f"{where} entry {i}"))
    return entries


def _party_map(entries: list[tuple[Any, Any, Any, str]]) -> PartyMap:
    everywhere: dict[str, str] = {}
    per_robot: dict[tuple[str, str], str] = {}
    for name, party, code, where in entries:
        if not isinstance(name, str) or not name:
            raise MapError(f"{where}: the name must be a non-empty string")
        if not is_party_id(party):
            raise MapError(f"{where}: the id must be a party identifier ({PARTY_ID_SYNTAX})")
        if code is not None and not isinstance(code, str):
            raise MapError(f"{where}: the code must be a string")
        if code:
            _map_once(per_robot, (code, name), party, where)
        else:
            _map_once(everywhere, name, party, where)
    return PartyMap(everywhere, per_robot)


K = TypeVar("K")


def _map_once(target: dict[K, str], key: K, party: str, where: str) -> None:
    """`key` -> `party` in `target`; a key may be given twice, but not two parties."""
    if target.get(key, party) != party:
        raise MapError(f"{where}: this name already has another id in the map")
    target[key] = party
