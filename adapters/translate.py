"""Translate a passport document between any two formats, with a report of what was lost.

Every translation goes source -> canonical plain data -> target. The report is computed
from the two formats' field rules against this very document: a field is *dropped* when
the target has no home for a value the document holds, *lossy* when the target's transform
changes the value (a fraction of a percent rounded away), and *defaulted* when the source
had no home for it and the canonical value was filled in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schema.codec import DecodeError, from_plain
from schema.fields import leaf_paths
from schema.passport import Passport

from . import aas, canonical, cn_miit, untp
from .errors import InvalidDocument, Violation
from .format import Format, Plain
from .mapping import FieldRule, Status, values_at

__all__ = [
    "FORMATS",
    "Loss",
    "LossKind",
    "Report",
    "Translation",
    "coverage_matrix",
    "loss_report",
    "register",
    "translate",
]

FORMATS: dict[str, Format] = {}
"""The formats `translate` knows, by name."""


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


class LossKind(enum.Enum):
    DROPPED = "DROPPED"
    LOSSY = "LOSSY"
    DEFAULTED = "DEFAULTED"


@dataclass(frozen=True, slots=True)
class Loss:
    """What happened to one canonical field; `count` values were affected in this document."""

    path: str
    kind: LossKind
    reason: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class Report:
    source: str
    target: str
    dropped: list[Loss] = field(default_factory=list)
    lossy: list[Loss] = field(default_factory=list)
    defaulted: list[Loss] = field(default_factory=list)

    @property
    def lossless(self) -> bool:
        return not (self.dropped or self.lossy or self.defaulted)

    def entries(self) -> list[Loss]:
        return [*self.dropped, *self.lossy, *self.defaulted]


@dataclass(frozen=True, slots=True)
class Translation:
    output: Any
    report: Report


def _format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown format {name!r}; known: {known}") from None


def translate(doc: Any, source: str, target: str, *, validate: bool = True) -> Translation:
    """Translate `doc` from `source` to `target` format.

    With `validate` (the default) the input is checked against its format first and the
    output against its own; either failing raises `InvalidDocument` and returns nothing.
    """
    src, dst = _format(source), _format(target)
    if validate:
        src.validate(doc)
    plain = src.decode(doc)
    if validate and src is not FORMATS[canonical.NAME]:
        _check_canonical(plain, source)
    output = dst.encode(plain)
    if validate:
        dst.validate(output)
    return Translation(output, loss_report(plain, src, dst))


def _check_canonical(plain: Plain, source: str) -> None:
    try:
        from_plain(Passport, plain)
    except DecodeError as exc:
        message = f"translates to invalid canonical data: {exc.message}"
        raise InvalidDocument(source, [Violation(exc.path, message)]) from None


def loss_report(plain: Plain, source: Format, target: Format) -> Report:
    """What translating this canonical document from `source` into `target` loses."""
    report = Report(source.name, target.name)
    for rule in source.rules:
        if rule.status is Status.UNMAPPED:
            report.defaulted.append(Loss(rule.path, LossKind.DEFAULTED, rule.note))
    for rule in target.rules:
        _judge(plain, rule, report)
    return report


def _judge(plain: Plain, rule: FieldRule, report: Report) -> None:
    status = rule.status
    if status is Status.LOSSLESS:
        return
    if status is Status.UNMAPPED:
        count = sum(1 for v in values_at(plain, rule.path) if v is not None)
        if count:
            report.dropped.append(Loss(rule.path, LossKind.DROPPED, rule.note, count))
        return
    normalize = rule.transform.normalize
    count = sum(1 for v in values_at(plain, rule.path) if v is not None and normalize(v) != v)
    if count:
        reason = f"{rule.transform.name}: {rule.transform.loss}"
        report.lossy.append(Loss(rule.path, LossKind.LOSSY, reason, count))


def coverage_matrix(formats: Iterable[str] | None = None) -> dict[str, dict[str, Status]]:
    """Canonical leaf path -> format name -> status, for every registered format."""
    names = list(formats or FORMATS)
    by_format = {n: {r.path: r.status for r in _format(n).rules} for n in names}
    return {
        path: {n: by_format[n].get(path, Status.UNMAPPED) for n in names} for path in leaf_paths()
    }


register(canonical.FORMAT)
register(cn_miit.FORMAT)
register(aas.FORMAT)
register(untp.FORMAT)
