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
        try:
            src.validate(doc)
        except InvalidDocument as exc:
            hint = misnamed(doc, source)
            if hint is None:
                raise
            raise InvalidDocument(exc.format, exc.violations, hint) from None
    plain = src.decode(doc)
    if validate and src is not FORMATS[canonical.NAME]:
        _check_canonical(plain, source)
    output = dst.encode(plain)
    if validate:
        dst.validate(output)
    return Translation(output, loss_report(plain, src, dst))


# What each format's documents are called, for the hint of `misnamed`.
KINDS = {
    aas.NAME: "an AAS environment",
    untp.NAME: "a UNTP DPP credential",
    cn_miit.NAME: "a cn-miit registry record",
    canonical.NAME: "a canonical passport",
}


def looks_like(doc: Any) -> str | None:
    """The format a document's top-level keys point to; None when they point nowhere.

    Only a guess for a message: each format's own validation is the judge.
    """
    if not isinstance(doc, dict):
        return None
    if "assetAdministrationShells" in doc or "submodels" in doc:
        return aas.NAME
    types = doc.get("type")
    if "@context" in doc and isinstance(types, list) and "VerifiableCredential" in types:
        return untp.NAME
    if "rbt_code" in doc:
        return cn_miit.NAME
    if "code" in doc and "manufacturer" in doc:
        return canonical.NAME
    return None


def misnamed(doc: Any, source: str) -> str | None:
    """The next step for a document refused as `source` that looks like another format."""
    other = looks_like(doc)
    if other is None or other == source:
        return None
    return f"this looks like {KINDS[other]}: translate it from {other}"


def _check_canonical(plain: Plain, source: str) -> None:
    try:
        from_plain(Passport, plain)
    except DecodeError as exc:
        message = f"translates to invalid canonical data: {exc.message}"
        raise InvalidDocument(source, [Violation(exc.path, message)]) from None


def loss_report(plain: Plain, source: Format, target: Format) -> Report:
    """What translating this canonical document from `source` into `target` loses."""
    report = Report(source.name, target.name, defaulted=list(_compiled(source).defaults))
    checks = _compiled(target)
    for check, count in zip(checks.checks, checks.count(plain), strict=True):
        if count:
            loss = check.seen.get(count) or check.loss(count)
            (report.dropped if check.kind is LossKind.DROPPED else report.lossy).append(loss)
    return report


@dataclass(frozen=True, slots=True)
class _Check:
    """A rule of a target that can lose a value.

    `seen` keeps the `Loss` of each count met so far: documents repeat counts, and making
    a frozen dataclass costs about a microsecond, more than counting.
    """

    path: str
    kind: LossKind
    reason: str
    normalize: Callable[[Any], Any] | None
    seen: dict[int, Loss] = field(default_factory=dict)

    def loss(self, count: int) -> Loss:
        loss = Loss(self.path, self.kind, self.reason, count)
        if len(self.seen) < 1000:
            self.seen[count] = loss
        return loss


@dataclass(frozen=True, slots=True)
class _Checks:
    """What a format defaults as a source, what it can lose as a target, and the counter
    of the values each check concerns in a document, compiled into one pass."""

    fmt: Format
    defaults: tuple[Loss, ...]
    checks: tuple[_Check, ...]
    count: Callable[[Plain], tuple[int, ...]]


_COMPILED: dict[int, _Checks] = {}


def _compiled(fmt: Format) -> _Checks:
    """Kept by identity: hashing a format's rules would cost more than the report."""
    entry = _COMPILED.get(id(fmt))
    if entry is None or entry.fmt is not fmt:
        defaults, checks = [], []
        for rule in fmt.rules:
            if rule.status is Status.UNMAPPED:
                defaults.append(Loss(rule.path, LossKind.DEFAULTED, rule.note))
                checks.append(_Check(rule.path, LossKind.DROPPED, rule.note, None))
            elif rule.status is Status.LOSSY:
                reason = f"{rule.transform.name}: {rule.transform.loss}"
                checks.append(_Check(rule.path, LossKind.LOSSY, reason, rule.transform.normalize))
        entry = _Checks(fmt, tuple(defaults), tuple(checks), _counter(checks))
        _COMPILED[id(fmt)] = entry
    return entry


_NS = Namespace()


PathTree = dict[str | int, Any]
"""Checks by path: a part (str) leads to the tree below it, a check's index (int) to its
`normalize` (None: any value counts)."""


def _counter(checks: list[_Check]) -> Callable[[Plain], tuple[int, ...]]:
    """Per check, count the values at its path that are not None (and, for a lossy one,
    that its `normalize` changes), walking each object and list of the document once."""
    tree: PathTree = {}
    for i, check in enumerate(checks):
        node = tree
        for part in check.path.split("."):
            node = node.setdefault(part, {})
        node[i] = check.normalize
    counters = [f"n{i}" for i in range(len(checks))]
    body = [f"{c} = 0" for c in counters]
    body += _walk(tree, "plain", "", 0)
    result = f"({', '.join(counters)},)" if counters else "()"
    return _NS.function("count", "plain", [*body, f"return {result}"])


def _walk(tree: PathTree, node: str, path: str, depth: int) -> list[str]:
    lines: list[str] = []
    lists = _list_paths()
    for part, sub in tree.items():
        here, var = f"{path}{part}", f"x{depth}"
        leaves = [(i, fn) for i, fn in sub.items() if isinstance(i, int)]
        for i, normalize in leaves:
            test = "v is not None"
            if normalize is not None:
                test += f" and {_NS.ref(normalize)}(v) != v"
            lines += [f"v = {node}.get({part!r})", f"if {test}:", f"    n{i} += 1"]
        inner: PathTree = {k: v for k, v in sub.items() if isinstance(k, str)}
        if not inner:
            continue
        body = _walk(inner, var, f"{here}.", depth + 1)
        if here in lists:
            body = [f"for {var} in {var}:", *(f"    {line}" for line in body)]
        lines += [f"{var} = {node}.get({part!r})", f"if {var} is not None:"]
        lines += [f"    {line}" for line in body]
    return lines


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
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
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
