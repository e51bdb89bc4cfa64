"""From what a request's resolvers touched to audit records, and from the log to a trail.

Pure functions: the request context collects, these shape, the audit log stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from gateway.store.cursors import decode_position, encode_cursor
from policies import AuditRecord, Decision, Principal, StoredRecord, TrailAccess
from policies.auditscheme import SALTED
from schema.disclosure import Disclosure
from schema.graphql.objects import RecordingView
from schema.source import Page

CURSOR = "audit"


def disclosure_records(
    principal: Principal,
    views: Mapping[tuple[str, Decision], RecordingView],
    at: datetime,
    answered: bool,
) -> list[AuditRecord]:
    """One record per robot (and view of it) a request touched.

    A path served anywhere in the response counts as served, not denied. When
    the operation returned no data (a rejected or failed operation) nothing was
    served; a robot then gets a record only if the caller asked for something
    it may not see, since that attempt is worth recording and the rest is not.
    """
    records = []
    for (code, decision), view in views.items():
        served = view.served if answered else ()
        if not answered and not view.denied:
            continue
        record = AuditRecord.outcome(principal, code, decision, at, served, view.denied)
        records.append(record)
    return records


def trail_page(rows: Sequence[StoredRecord], first: int, access: TrailAccess) -> Page[Disclosure]:
    """A page of `first` entries from `first + 1` rows read; the owner sees no requester ids."""
    full = access is TrailAccess.AUTHORITY
    items = [_disclosure(row, full) for row in rows[:first]]
    cursors = [encode_cursor(CURSOR, str(d.id)) for d in items]
    return Page(items, cursors, len(rows) > first)


def trail_after(cursor: str | None) -> int:
    """The log id a trail cursor points at; 0 for the start."""
    if cursor is None:
        return 0
    return decode_position(CURSOR, cursor)


def _disclosure(row: StoredRecord, full: bool) -> Disclosure:
    """The entry as `full` (the authority) or the owner sees it.

    The owner gets no requester identity, no salt (which, with the content,
    would let it test candidates against the commitment) and no scheme-1 hash
    (a hash over the hidden identity itself): a row's own hash only under
    scheme 2, its `prev_hash` only when the previous row is scheme 2.
    """
    r = row.record
    salted = row.scheme == SALTED
    return Disclosure(
        id=row.id,
        at=r.at,
        role=r.role,
        issuer=r.issuer,
        subject=r.subject if full else None,
        organisation=r.organisation if full else None,
        token_id=r.token_id if full else None,
        served=r.served,
        denied=r.denied,
        purposes=r.purposes,
        agreements=r.agreements,
        policy_version=r.policy_version,
        hash=row.hash if full or salted else None,
        prev_hash=row.prev_hash if full or row.prev_scheme == SALTED else None,
        action=r.action,
        scheme=row.scheme,
        commitment=row.commitment,
        salt=row.salt if full else None,
    )
