"""Who may append which event to a robot's log.

Writes are narrower than reads: a token needs the `robopass:write` scope
(`WRITE_SCOPE`, checked where the request arrives), and each role may append
only the events of its trade, and only for robots it stands in the right
relationship to. Authority writes (findings, mandates, recalls, status) also
need the registry's own jurisdiction, so a foreign regulator can read under an
agreement but never write into another country's record. Accepting a transfer
is the one write granted by another party: the current owner's offer. A
recycler writes one thing only: the disposal record (END_OF_LIFE, scrapped at
its facility) of a robot already decommissioned, whoever owned it; the write
rules (schema/writes.py `is_disposal`) say which event that is.
"""

from __future__ import annotations

from schema.events import EventType

from .principal import Principal, Role
from .rules import Relationship
from .visibility import is_own

E = EventType
R = Relationship
ANY: frozenset[Relationship] = frozenset(Relationship)

WRITES: dict[tuple[Role, EventType], frozenset[Relationship]] = {
    (Role.OWNER, E.TRANSFER_OFFERED): frozenset({R.CURRENT_OWNER}),
    (Role.OWNER, E.OWNERSHIP_TRANSFERRED): frozenset({R.CURRENT_OWNER}),
    (Role.OWNER, E.DEPLOYMENT_STARTED): frozenset({R.CURRENT_OWNER}),
    (Role.OWNER, E.END_OF_LIFE): frozenset({R.CURRENT_OWNER}),
    (Role.OWNER, E.INCIDENT_REPORTED): frozenset({R.CURRENT_OWNER}),
    (Role.OWNER, E.DEPLOYMENT_ENDED): frozenset({R.CURRENT_OWNER}),
    (Role.OWNER, E.CONDITION_RECORDED): frozenset({R.CURRENT_OWNER}),
    (Role.OWNER, E.CONDITIONS_INGESTED): frozenset({R.CURRENT_OWNER}),
    (Role.SERVICE_PROVIDER, E.MAINTENANCE_RECORDED): ANY,
    (Role.OPERATOR, E.CONDITION_RECORDED): frozenset({R.OPERATOR}),
    (Role.OPERATOR, E.CONDITIONS_INGESTED): frozenset({R.OPERATOR}),
    (Role.OPERATOR, E.DEPLOYMENT_ENDED): frozenset({R.OPERATOR}),
    (Role.OPERATOR, E.INCIDENT_REPORTED): frozenset({R.OPERATOR}),
    (Role.MANUFACTURER, E.SOFTWARE_UPDATED): frozenset({R.MANUFACTURER}),
    (Role.MANUFACTURER, E.RECALL_ISSUED): frozenset({R.MANUFACTURER}),
    (Role.MANUFACTURER, E.RECALL_REMEDIED): frozenset({R.MANUFACTURER}),
    (Role.MANUFACTURER, E.CERTIFIED): frozenset({R.MANUFACTURER}),
    (Role.REGULATOR, E.INCIDENT_REPORTED): ANY,
    (Role.REGULATOR, E.INCIDENT_UPDATED): ANY,
    (Role.REGULATOR, E.UPDATE_MANDATED): ANY,
    (Role.REGULATOR, E.RECALL_ISSUED): ANY,
    (Role.REGULATOR, E.STATUS_CHANGED): ANY,
    (Role.RECYCLER, E.END_OF_LIFE): ANY,
}

DISPOSERS = frozenset({Role.RECYCLER})
"""Roles whose one write is the disposal record of a robot already decommissioned."""

HOME_ONLY = frozenset({Role.REGULATOR})
WRITE_SCOPE = "robopass:write"
ACCEPTING_ROLES = frozenset({Role.OWNER, Role.OPERATOR, Role.SERVICE_PROVIDER, Role.BUYER})


def may_write(
    principal: Principal,
    relationship: Relationship,
    event_type: EventType,
    registry_jurisdiction: str | None = None,
    disposal: bool = False,
) -> bool:
    """Whether the principal may append `event_type`; deny when not in the table.

    `disposal`: the event is a decommissioned robot's disposal record, the only
    write of a recycler. The token's scope (`WRITE_SCOPE`) is checked at the
    edge, before this.
    """
    allowed = WRITES.get((principal.role, event_type))
    if allowed is None or relationship not in allowed:
        return False
    if disposal or principal.role in DISPOSERS:
        return disposal and principal.role in DISPOSERS
    if principal.role in HOME_ONLY:
        return registry_jurisdiction is not None and principal.jurisdiction == registry_jurisdiction
    return True


def may_accept_transfer(principal: Principal, offered_to: str | None) -> bool:
    """Whether the principal is the party a pending transfer offer names.

    The current owner granted the offer; accepting it needs no relationship to
    the robot yet, only to be that party in a role that can own a robot. The
    party is the offer's identifier (`offered_to`), compared as relationships
    are; an offer made before offers carried one can be accepted by no one.
    """
    return principal.role in ACCEPTING_ROLES and is_own(principal, offered_to)
