"""`mapping check` for one sample: validate, translate, judge, translate back, diff.

The steps run in order and each one's verdict is kept, so a failing sample says where
it failed: its input, the independent checkers of its output, the way back, or a field
that came back different without the mapping tables predicting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from adapters.errors import InvalidDocument, Violation
from adapters.translate import FORMATS, Report, translate

from .checkers import Check, Checker, CheckStatus
from .diff import Difference, Table, differences
from .losses import report_dict

__all__ = ["SampleResult", "check_sample", "unreadable"]


@dataclass(frozen=True, slots=True)
class SampleResult:
    """Everything `mapping check` found out about one sample."""

    name: str
    source: str
    target: str
    input: Check
    output: tuple[Check, ...] = ()
    back: Check | None = None
    differences: tuple[Difference, ...] = ()
    unreported: tuple[str, ...] = ()
    report: Report | None = None

    @property
    def expected_loss(self) -> list[Difference]:
        return [d for d in self.differences if d.predicted]

    @property
    def unexpected(self) -> list[Difference]:
        return [d for d in self.differences if not d.predicted]

    @property
    def failures(self) -> list[str]:
        """Why the sample failed, one short line per reason; empty when it passed."""
        checks = [self.input, *self.output, *([self.back] if self.back else [])]
        found = [
            f"{c.checker}: {len(c.violations)} violation(s)"
            for c in checks
            if c.status is CheckStatus.FAILED
        ]
        if self.unexpected:
            found.append(f"{len(self.unexpected)} unexpected difference(s) after the round trip")
        if self.unreported:
            found.append(f"loss not named by the loss report: {', '.join(self.unreported)}")
        return found

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def not_checked(self) -> list[str]:
        return [c.checker for c in self.output if c.status is CheckStatus.NOT_CHECKED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "sample": self.name,
            "verdict": "PASS" if self.passed else "FAIL",
            "failures": self.failures,
            "input": self.input.as_dict(),
            "output": [c.as_dict() for c in self.output],
            "back": self.back.as_dict() if self.back else None,
            "expected_loss": [d.as_dict() for d in self.expected_loss],
            "unexpected": [d.as_dict() for d in self.unexpected],
            "unreported": list(self.unreported),
            "report": report_dict(self.report) if self.report else None,
        }


def _refused(checker: str, exc: InvalidDocument) -> Check:
    note = f"invalid {exc.format}" + (f" ({exc.hint})" if exc.hint else "")
    return Check(checker, CheckStatus.FAILED, tuple(exc.violations), note)


def check_sample(
    name: str, doc: Any, source: str, target: str, checkers: Sequence[Checker]
) -> SampleResult:
    """Run every step on one parsed sample; `checkers` judge the translated output."""
    validity = f"{source} input"
    try:
        before = translate(doc, source, "canonical").output
    except InvalidDocument as exc:
        return SampleResult(name, source, target, _refused(validity, exc))
    try:
        forward = translate(doc, source, target, validate=False)
    except Exception as exc:  # an adapter that crashes on valid input is a finding, not a stop
        crash = Check(f"translate to {target}", CheckStatus.FAILED, (Violation("", repr(exc)),))
        return SampleResult(name, source, target, Check(validity, CheckStatus.PASSED), (crash,))
    result = SampleResult(
        name,
        source,
        target,
        Check(validity, CheckStatus.PASSED),
        tuple(check(forward.output) for check in checkers),
        report=forward.report,
    )
    if any(c.status is CheckStatus.FAILED for c in result.output):
        return result
    way_back = f"back to {source}"
    try:
        back = translate(forward.output, target, source)
        after = translate(back.output, source, "canonical").output
    except InvalidDocument as exc:
        return replace(result, back=_refused(way_back, exc))
    tables: list[Table] = [(f, {r.path: r for r in FORMATS[f].rules}) for f in (target, source)]
    found = differences(before, after, tables)
    reported = {loss.path for loss in [*forward.report.entries(), *back.report.entries()]}
    unreported = sorted({d.path for d in found if d.predicted and d.path not in reported})
    return replace(
        result,
        back=Check(way_back, CheckStatus.PASSED),
        differences=tuple(found),
        unreported=tuple(unreported),
    )


def unreadable(name: str, source: str, target: str, error: str) -> SampleResult:
    """A sample that could not even be parsed fails at its input."""
    check = Check(f"{source} input", CheckStatus.FAILED, (Violation("", error),), error)
    return SampleResult(name, source, target, check)
