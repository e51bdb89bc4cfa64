"""The change feed from a caller's side: owner tokens, change queries, and the
incidents that subscriptions wait for.
"""

from __future__ import annotations

import collections
from datetime import datetime

from schema.codec import to_plain
from schema.passport import Incident, IncidentCategory, IncidentStatus, RootCause, Severity
from tests.support.audited import token

CHANGES = """query ($owner: String, $after: String, $first: Int!) {
  fleetChanges(ownerId: $owner, after: $after, first: $first) {
    edges { cursor node { code sequence hash prevHash at type payload robot { code version } } }
    pageInfo { hasNextPage endCursor } } }"""


def owner_of_most(store) -> tuple[str, list[str]]:
    """The owner (its identifier) with the most robots in the store, and its robots' codes."""
    by_owner = collections.defaultdict(list)
    for code in store.codes():
        by_owner[store.record(code).passport.current_owner.owner_id].append(code)
    owner = max(by_owner, key=lambda o: len(by_owner[o]))
    return owner, by_owner[owner]


def owner_token(owner_id: str) -> str:
    return token(role="owner", org="The Fleet", org_id=owner_id, purposes="fleet_management")


FINDINGS = "Secret finding: encoder cable chafed by the hip actuator bracket"


def incident(at: datetime) -> dict:
    return to_plain(
        Incident(
            "INC-WS-1",
            at,
            Severity.MINOR,
            IncidentCategory.COLLISION,
            RootCause.UNKNOWN,
            "Bumped a shelf",
            None,
            IncidentStatus.OPEN,
            FINDINGS,
        )
    )
