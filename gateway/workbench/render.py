"""`mapping check` results as a terminal table, Markdown, or JSON.

Pure functions from results to text: the command decides where the text goes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.mapping import Status

from .check import SampleResult
from .checkers import CheckStatus

__all__ = ["CheckRun", "as_json", "as_markdown", "as_text"]

Matrix = dict[str, dict[str, Status]]


@dataclass(frozen=True, slots=True)
class CheckRun:
    """One `mapping check` invocation: the pair of formats, each sample, the coverage."""

    source: str
    target: str
    samples: tuple[SampleResult, ...]
    coverage: Matrix

    @property
    def failed(self) -> int:
        return sum(1 for s in self.samples if not s.passed)


def _headline(run: CheckRun) -> str:
    n = len(run.samples)
    return (
        f"mapping check {run.source} -> {run.target}: {n} sample{'s' if n != 1 else ''}, "
        f"{n - run.failed} passed, {run.failed} failed"
    )


def _status(status: CheckStatus) -> str:
    return {"PASSED": "passed", "FAILED": "FAILED", "NOT_CHECKED": "not checked"}[status.value]


def _round_trip(sample: SampleResult) -> str:
    if sample.back is None:
        return "not run"
    if sample.back.status is CheckStatus.FAILED:
        return "FAILED"
    if sample.unexpected:
        return f"{len(sample.unexpected)} UNEXPECTED"
    if sample.expected_loss:
        n = len(sample.expected_loss)
        return f"{n} expected change{'s' if n != 1 else ''}"
    return "identical"


def _sample_rows(run: CheckRun) -> tuple[list[str], list[list[str]]]:
    checker_names: list[str] = []
    for sample in run.samples:
        for check in sample.output:
            if check.checker not in checker_names:
                checker_names.append(check.checker)
    header = ["sample", f"{run.source} input", *checker_names, "round trip", "verdict"]
    rows = []
    for s in run.samples:
        by_name = {c.checker: _status(c.status) for c in s.output}
        rows.append(
            [
                s.name,
                _status(s.input.status),
                *(by_name.get(name, "not run") for name in checker_names),
                _round_trip(s),
                "PASS" if s.passed else "FAIL",
            ]
        )
    return header, rows


def _short(value: Any, width: int = 48) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def _details(sample: SampleResult) -> list[str]:
    lines = [f"{'PASS' if sample.passed else 'FAIL'} {sample.name}"]
    lines += [f"  {reason}" for reason in sample.failures]
    checks = [sample.input, *sample.output, *([sample.back] if sample.back else [])]
    for check in checks:
        if check.status is CheckStatus.FAILED and check.note:
            lines.append(f"  {check.checker}: {check.note}")
        lines += [f"  {check.checker}: {v}" for v in check.violations]
        if check.status is CheckStatus.NOT_CHECKED:
            lines.append(f"  {check.checker}: not checked: {check.note}")
    for d in sample.unexpected:
        lines.append(
            f"  unexpected {d.location} ({d.path}): {_short(d.before)} -> {_short(d.after)}"
        )
    return lines


def _expected_rows(run: CheckRun) -> list[list[str]]:
    """Predicted losses over all samples, one row per field."""
    seen: dict[str, list[Any]] = {}
    for sample in run.samples:
        for d in sample.expected_loss:
            entry = seen.setdefault(d.path, [set(), 0, d.reason])
            entry[0].add(sample.name)
            entry[1] += 1
    return [[path, str(len(names)), str(n), why] for path, (names, n, why) in seen.items()]


def _matrix_rows(coverage: Matrix) -> tuple[list[str], list[list[str]]]:
    formats = [f for f in next(iter(coverage.values()), {}) if f != "canonical"]
    rows = [[path, *(row[f].value.lower() for f in formats)] for path, row in coverage.items()]
    for status in Status:
        counts = [sum(1 for row in coverage.values() if row[f] is status) for f in formats]
        rows.append([f"({status.value.lower()} fields)", *map(str, counts)])
    return ["canonical field", *formats], rows


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


EXPECTED_HEADER = ["canonical field", "samples", "values", "why (mapping table)"]


def as_text(run: CheckRun) -> str:
    """A readable report for a terminal."""
    out = [_headline(run), "", *_aligned(*_sample_rows(run))]
    for sample in run.samples:
        if not sample.passed or sample.not_checked:
            out += ["", *_details(sample)]
    expected = _expected_rows(run)
    if expected:
        out += ["", "Changes the mapping tables predict (loss, not failure):"]
        out += _aligned(EXPECTED_HEADER, expected)
    out += ["", "Coverage matrix (canonical fields x formats):"]
    out += _aligned(*_matrix_rows(run.coverage))
    return "\n".join(out) + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + " --- |" * len(header), *(line(r) for r in rows)]


def as_markdown(run: CheckRun) -> str:
    """The same report as Markdown, for an issue, a wiki or a standards working group."""
    out = [f"# {_headline(run)}", "", *_md_table(*_sample_rows(run))]
    noted = [s for s in run.samples if not s.passed or s.not_checked]
    if noted:
        out += ["", "## Findings", ""]
        for sample in noted:
            head, *rest = _details(sample)
            out += [f"### {head}", "", *(f"- {line.strip()}" for line in rest), ""]
    expected = _expected_rows(run)
    if expected:
        out += ["", "## Changes the mapping tables predict", ""]
        out += _md_table(EXPECTED_HEADER, expected)
    out += ["", "## Coverage matrix", "", *_md_table(*_matrix_rows(run.coverage))]
    return "\n".join(out) + "\n"


def as_json(run: CheckRun) -> str:
    """Everything, for a machine: every check, violation, difference and the matrix."""
    body = {
        "source": run.source,
        "target": run.target,
        "passed": len(run.samples) - run.failed,
        "failed": run.failed,
        "samples": [s.as_dict() for s in run.samples],
        "coverage": {p: {f: s.value for f, s in row.items()} for p, row in run.coverage.items()},
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"
