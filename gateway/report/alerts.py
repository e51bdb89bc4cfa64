"""What a buyer must see first: recalls not yet remedied and mandated updates not yet met.

The report shows them above everything else (`report.html`, `#alerts`), in the
viewer's language, gated like every other fact: a viewer who may not see the
recalls (or the firmware a mandate is measured against) sees that they are
restricted, never a reassuring "none".
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime

from gateway.report.model import Restricted
from schema.campaigns import version_below
from schema.passport import Passport


@dataclass(frozen=True, slots=True)
class OpenRecall:
    reference: str
    issued_at: datetime
    description: str


@dataclass(frozen=True, slots=True)
class OpenMandate:
    reference: str
    required_version: str
    due: date
    overdue: bool


@dataclass(frozen=True, slots=True)
class Alerts:
    recalls: tuple[OpenRecall, ...] | Restricted
    mandates: tuple[OpenMandate, ...] | Restricted

    @property
    def any(self) -> bool:
        """Whether there is something to warn of, or something the viewer may not check."""
        return any(isinstance(v, Restricted) or v for v in (self.recalls, self.mandates))


RECALL_PATHS = (
    "compliance.recalls.reference",
    "compliance.recalls.issued_at",
    "compliance.recalls.description",
    "compliance.recalls.remedied_at",
)
MANDATE_PATHS = (
    "compliance.mandated_updates.reference",
    "compliance.mandated_updates.required_version",
    "compliance.mandated_updates.due",
    "software.firmware_version",
)


def alerts(p: Passport, mask: Container[str], today: date) -> Alerts:
    """Open recalls and unmet mandates of `p` as `mask` shows them, `today` deciding overdue."""
    hidden = next((path for path in RECALL_PATHS if path not in mask), None)
    recalls: tuple[OpenRecall, ...] | Restricted = (
        Restricted(hidden)
        if hidden
        else tuple(
            OpenRecall(r.reference, r.issued_at, r.description)
            for r in p.compliance.recalls
            if r.remedied_at is None
        )
    )
    hidden = next((path for path in MANDATE_PATHS if path not in mask), None)
    firmware = p.software.firmware_version
    mandates: tuple[OpenMandate, ...] | Restricted = (
        Restricted(hidden)
        if hidden
        else tuple(
            OpenMandate(m.reference, m.required_version, m.due, m.due < today)
            for m in p.compliance.mandated_updates
            if version_below(firmware, m.required_version)
        )
    )
    return Alerts(recalls, mandates)
