"""Who may read a robot's audit trail: the registry's authority and the robot's owner.

The trail says who looked at a robot, so it is itself sensitive. The registry's
own regulator supervises every disclosure and sees the trail in full. The
current owner learns which kinds of party read its robot, when, what and why
(GDPR Art. 15(1)(c): recipients or their categories), but not who they are:
a requester's organisation may be a natural person's name.
"""

from __future__ import annotations

import enum

from .principal import Principal, Role
from .rules import Relationship


class TrailAccess(enum.Enum):
    """How much of a robot's trail a principal may read."""

    NONE = "none"
    OWNER = "owner"
    AUTHORITY = "authority"


def trail_access(
    principal: Principal, relationship: Relationship, registry_jurisdiction: str
) -> TrailAccess:
    if principal.role is Role.REGULATOR and principal.jurisdiction == registry_jurisdiction:
        return TrailAccess.AUTHORITY
    if principal.role is Role.OWNER and relationship is Relationship.CURRENT_OWNER:
        return TrailAccess.OWNER
    return TrailAccess.NONE
