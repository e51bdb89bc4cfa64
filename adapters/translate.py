"""Translate a passport document between any two formats, with a report of what was lost.

Every translation goes source -> canonical plain data -> target. The report is computed
from the two formats' field rules against this very document: a field is *dropped* when
the target has no home for a value the document holds, *lossy* when the target's transform
changes the value (a fraction of a percent rounded away), and *defaulted* when the source
had no home for it and the canonical value was filled in.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from schema.codec import DecodeError, from_plain
from schema.fields import leaf_paths
from schema.passport import Passport

from . import aas, canonical, cn_miit, untp
from .errors import InvalidDocument, Violation
from .format import Format, Plain
from .generated import Namespace
from .mapping import Status

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
    report = Report(source.name, target.name, defaulted=list(_compiled(source)[0]))
    for check in _compiled(target)[1]:
        count = check.count(plain)
        if count:
            loss = Loss(check.path, check.kind, check.reason, count)
            (report.dropped if check.kind is LossKind.DROPPED else report.lossy).append(loss)
    return report


@dataclass(frozen=True, slots=True)
class _Check:
    """A rule of the target that can lose a value, with its counter compiled once."""

    path: str
    kind: LossKind
    reason: str
    count: Callable[[Plain], int]


_COMPILED: dict[int, tuple[Format, tuple[Loss, ...], tuple[_Check, ...]]] = {}


def _compiled(fmt: Format) -> tuple[tuple[Loss, ...], tuple[_Check, ...]]:
    """A format's defaults and checks, kept by identity: hashing its rules costs more."""
    entry = _COMPILED.get(id(fmt))
    if entry is None or entry[0] is not fmt:
        defaults = tuple(
            Loss(rule.path, LossKind.DEFAULTED, rule.note)
            for rule in fmt.rules
            if rule.status is Status.UNMAPPED
        )
        entry = _COMPILED[id(fmt)] = (fmt, defaults, _checks(fmt))
    return entry[1], entry[2]


def _checks(fmt: Format) -> tuple[_Check, ...]:
    checks = []
    for rule in fmt.rules:
        status = rule.status
        if status is Status.UNMAPPED:
            checks.append(_Check(rule.path, LossKind.DROPPED, rule.note, _counter(rule.path)))
        elif status is Status.LOSSY:
            reason = f"{rule.transform.name}: {rule.transform.loss}"
            count = _counter(rule.path, rule.transform.normalize)
            checks.append(_Check(rule.path, LossKind.LOSSY, reason, count))
    return tuple(checks)


_NS = Namespace()


def _counter(path: str, normalize: Callable[[Any], Any] | None = None) -> Callable[[Plain], int]:
    """Count the values at `path` that are not None (and, with `normalize`, that it changes).

    Generated as nested loops over the lists on the way, which the canonical model names.
    """
    parts = path.split(".")
    lists = _list_paths()
    body, node, indent = ["n = 0"], "plain", ""
    for depth, part in enumerate(parts[:-1]):
        child = f"x{depth}"
        body += [f"{indent}{child} = {node}.get({part!r})", f"{indent}if {child} is not None:"]
        indent += "    "
        if ".".join(parts[: depth + 1]) in lists:
            body.append(f"{indent}for {child} in {child}:")
            indent += "    "
        node = child
    test = "v is not None"
    if normalize is not None:
        test += f" and {_NS.ref(normalize)}(v) != v"
    body += [f"{indent}v = {node}.get({parts[-1]!r})", f"{indent}if {test}:", f"{indent}    n += 1"]
    return _NS.function("count", "plain", [*body, "return n"])


@cache
def _list_paths() -> frozenset[str]:
    """Canonical paths that hold a list of objects."""
    found: set[str] = set()

    def walk(cls: type, prefix: str) -> None:
        for name, hint in typing.get_type_hints(cls).items():
            if typing.get_origin(hint) is list:
                found.add(prefix + name)
                hint = typing.get_args(hint)[0]
            hint = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
            if dataclasses.is_dataclass(hint):
                walk(hint, f"{prefix}{name}.")

    walk(Passport, "")
    return frozenset(found)


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
