"""`robopass mapping test MAPPING SAMPLES`: run a mapping document over samples and judge it.

For each sample: validate it (canonical: the codec; a foreign format: its `source_schema`),
run the rules, validate the output against the target schema, run the inverse and diff the
round trip field by field in canonical form, and compare what changed with what the
document declares. A field that changes, or that holds a value no rule carries, without the
document declaring it lossy or unmapped, is an undeclared loss and fails the sample. Every
failure names the rule (and its line) that wrote the field, or says that no rule did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from adapters.errors import InvalidDocument, pointer
from adapters.mapdoc import CANONICAL, MappingDocument, Rule
from adapters.mapengine import Program, RuleFailed
from adapters.translate import translate
from gateway.service.mapdocs import Loaded
from schema.codec import DecodeError, from_plain, to_plain
from schema.fields import leaf_paths
from schema.passport import Passport

from .diff import differences
from .sandbox import run_capped

__all__ = ["Sample", "SampleVerdict", "coverage", "run_sample"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One document to test: its label (file, file:line) and its content in `format`."""

    label: str
    value: Any
    format: str


@dataclass(slots=True)
class SampleVerdict:
    label: str
    failures: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    changed: Counter[str] = field(default_factory=Counter)
    carried: Counter[str] = field(default_factory=Counter)

    @property
    def passed(self) -> bool:
        return not self.failures


def _canonical(sample: Sample) -> Any:
    """A sample of a built-in format read into canonical plain data (validated)."""
    return translate(sample.value, sample.format, CANONICAL).output


def _normal(plain: Any) -> Any:
    """Canonical plain data as the codec writes it: defaults filled, times normalised."""
    return to_plain(from_plain(Passport, plain))


def _schema_errors(
    validator: Draft202012Validator, doc: Any
) -> Iterator[tuple[str, str, list[str]]]:
    """(pointer, message, dot path of the field concerned) per violation."""
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        parts = [str(p) for p in err.absolute_path if not isinstance(p, int)]
        if err.validator == "required" and isinstance(err.instance, dict):
            # one error per missing property; its message names it
            missing = [n for n in err.validator_value if n not in err.instance]
            parts += [n for n in missing if err.message.startswith(repr(n))][:1]
        yield pointer(err.absolute_path), err.message, parts


def _writer(rules: tuple[Rule, ...], parts: list[str]) -> Rule | None:
    """The rule whose target is the longest prefix of a field's path (or the whole-output rule)."""
    best: Rule | None = None
    length = -1
    for rule in rules:
        target = rule.target.split(".") if rule.target else []
        if parts[: len(target)] == target and len(target) > length:
            best, length = rule, len(target)
    if length <= 0:
        # nothing writes the field itself: the first rule writing inside it
        best = next(
            (r for r in rules if r.target and r.target.split(".")[: len(parts)] == parts), best
        )
    return best


def _blame(rules: tuple[Rule, ...], parts: list[str]) -> str:
    rule = _writer(rules, parts)
    return rule.where() if rule else "no rule writes it"


def run_sample(loaded: Loaded, sample: Sample, memory_mb: int = 0) -> SampleVerdict:
    """Everything `mapping test` checks of one sample; with `memory_mb`, each run of the
    rules happens in a child process whose memory is capped (`sandbox.run_capped`)."""
    doc = loaded.compiled.doc
    verdict = SampleVerdict(sample.label)
    try:
        source = _read_source(loaded, sample)
    except (InvalidDocument, DecodeError, ValueError) as exc:
        verdict.failures.append(f"the sample is not a valid {doc.source} document: {exc}")
        return verdict

    def run(program: Program, doc: Any) -> Any:
        return run_capped(program, doc, memory_mb) if memory_mb else program.run(doc)

    try:
        output = run(loaded.compiled.forward, source)
    except RuleFailed as exc:
        verdict.failures.append(str(exc))
        return verdict
    if not _target_valid(loaded, output, verdict):
        return verdict
    canonical = source if doc.source == CANONICAL else _normal(output)
    _static_losses(doc, canonical, verdict, strict=doc.source == CANONICAL)
    if loaded.compiled.inverse is not None:
        _round_trip(loaded, canonical, output, verdict, run)
    return verdict


def _read_source(loaded: Loaded, sample: Sample) -> Any:
    doc = loaded.compiled.doc
    if doc.source == CANONICAL:
        return _normal(sample.value if sample.format == CANONICAL else _canonical(sample))
    if loaded.source_validator is not None:
        errors = list(_schema_errors(loaded.source_validator, sample.value))
        if errors:
            at, message, _ = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ValueError(f"{at or '/'}: {message}{more}")
    return sample.value


def _target_valid(loaded: Loaded, output: Any, verdict: SampleVerdict) -> bool:
    doc = loaded.compiled.doc
    if doc.target == CANONICAL:
        try:
            from_plain(Passport, output)
        except DecodeError as exc:
            parts = [p for p in exc.path.strip("/").split("/") if p and not p.isdigit()]
            verdict.failures.append(
                f"output violates the canonical passport at {exc.path or '/'}: {exc.message} "
                f"[{_blame(doc.rules, parts)}]"
            )
            return False
        return True
    assert loaded.target_validator is not None
    ok = True
    for at, message, parts in _schema_errors(loaded.target_validator, output):
        blame = _blame(doc.rules, parts)
        verdict.failures.append(
            f"output violates {doc.target_schema} at {at or '/'}: {message} [{blame}]"
        )
        ok = False
    return ok


def _static_losses(
    doc: MappingDocument, canonical: Any, verdict: SampleVerdict, *, strict: bool
) -> None:
    """Count the canonical fields holding a value; with `strict` (canonical is the source),
    one that no rule carries and no declaration covers is an undeclared loss."""
    declared = doc.declared()
    for path in leaf_paths():
        if _holds(canonical, path.split(".")):
            verdict.carried[path] += 1
            if strict and path not in declared:
                verdict.failures.append(
                    f"undeclared loss: {path} holds a value, but no rule's fields carry it "
                    "and unmapped does not list it"
                )


def _holds(node: Any, parts: list[str]) -> bool:
    if isinstance(node, list):
        return any(_holds(item, parts) for item in node)
    if not parts:
        return node is not None and node != [] and node != ""
    return isinstance(node, dict) and _holds(node.get(parts[0]), parts[1:])


def _round_trip(
    loaded: Loaded,
    canonical: Any,
    output: Any,
    verdict: SampleVerdict,
    run: Callable[[Program, Any], Any],
) -> None:
    doc = loaded.compiled.doc
    inverse = loaded.compiled.inverse
    assert inverse is not None
    try:
        back = run(inverse, output)
        if doc.source != CANONICAL:
            # foreign -> canonical: the way back gives the foreign document; read it again
            back = _normal(run(loaded.compiled.forward, back))
    except RuleFailed as exc:
        verdict.failures.append(f"inverse: {exc}")
        return
    except DecodeError as exc:
        verdict.failures.append(
            f"the round trip gives invalid canonical data at {exc.path}: {exc.message}"
        )
        return
    declared = doc.declared()
    for diff in differences(canonical, back, []):
        status, reason, rule = declared.get(diff.path, (None, "", None))
        if status in ("UNMAPPED", "LOSSY"):
            verdict.changed[diff.path] += 1
            verdict.expected.append(f"{diff.path} ({diff.location}): {status.lower()}: {reason}")
            continue
        said = f"{rule.where()} declares it lossless" if rule else "no rule declares it"
        verdict.failures.append(
            f"undeclared loss: {diff.path} ({diff.location}) was {diff.before!r}, "
            f"came back {diff.after!r}; {said}"
        )


def coverage(
    doc: MappingDocument, verdicts: list[SampleVerdict]
) -> list[tuple[str, str, str, int, int]]:
    """Per canonical field: declared status, the rule (or reason), samples holding it, changed."""
    declared = doc.declared()
    carried: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    for v in verdicts:
        carried.update(v.carried)
        changed.update(v.changed)
    rows = []
    for path in leaf_paths():
        status, reason, rule = declared.get(path, ("UNDECLARED", "", None))
        rows.append((path, status, rule.name if rule else reason, carried[path], changed[path]))
    return rows
