"""Loss reports as plain data and as a short summary over many documents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adapters.errors import Violation
from adapters.translate import Loss, LossKind, Report

__all__ = ["Tally", "loss_dict", "report_dict", "summary_lines", "tally", "violation_dict"]


def loss_dict(loss: Loss) -> dict[str, Any]:
    return {"path": loss.path, "reason": loss.reason, "count": loss.count}


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "source": report.source,
        "target": report.target,
        "lossless": report.lossless,
        "dropped": [loss_dict(x) for x in report.dropped],
        "lossy": [loss_dict(x) for x in report.lossy],
        "defaulted": [loss_dict(x) for x in report.defaulted],
    }


def violation_dict(violation: Violation) -> dict[str, str]:
    return {"pointer": violation.pointer, "message": violation.message}


@dataclass(frozen=True, slots=True)
class Tally:
    """One (kind, path) over a batch: in how many documents, how many values, and why."""

    kind: LossKind
    path: str
    reason: str
    documents: int
    values: int


def tally(reports: Iterable[Report]) -> list[Tally]:
    """Fold per-document reports into one line per kind and path, in report order."""
    seen: dict[tuple[LossKind, str], list[Any]] = {}
    for report in reports:
        for loss in report.entries():
            entry = seen.setdefault((loss.kind, loss.path), [loss.reason, 0, 0])
            entry[1] += 1
            entry[2] += loss.count
    return [Tally(kind, path, r, d, v) for (kind, path), (r, d, v) in seen.items()]


def summary_lines(tallies: list[Tally]) -> list[str]:
    """Human lines for stderr: what was dropped, changed or defaulted, and why."""
    if not tallies:
        return ["  nothing dropped, changed or defaulted: lossless"]
    width = max(len(t.path) for t in tallies)
    lines = []
    for t in tallies:
        counts = f"{t.documents} doc{'s' if t.documents != 1 else ''}, {t.values} value"
        counts += "s" if t.values != 1 else ""
        lines.append(f"  {t.kind.value.lower():<9} {t.path:<{width}}  {counts:<18}  {t.reason}")
    return lines
