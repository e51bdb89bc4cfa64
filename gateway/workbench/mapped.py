"""`robopass translate --mapping DOC`: one document through a mapping document.

A mapping document into canonical is how another country's registry records are read
(issue 18): without this, such a document could be tested (`mapping test`) but never used.
Through it, a foreign record becomes a canonical passport and, by the built-in adapters,
any built-in format. A document from canonical is the other way: a document of a
built-in format is read into canonical and written in the document's target format.

The rules run in a forked child with a memory cap (`sandbox.run_capped`), as in `mapping
test`, since the CLI runs documents nobody may have tested. Every refusal is an
`InvalidDocument` (the input against its schema, the output against its own) or a
`RuleFailed` naming the rule; nothing is written for a document that fails.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from adapters.errors import InvalidDocument, Violation, pointer
from adapters.mapdoc import CANONICAL, MappingDocument
from adapters.mapengine import Program
from adapters.mapping import values_at
from adapters.translate import Loss, LossKind, Report, Translation, translate
from gateway.service.mapdocs import Loaded
from schema.codec import DecodeError, from_plain, to_plain
from schema.fields import leaf_paths
from schema.passport import Passport

from .sandbox import run_capped

__all__ = ["formats_of", "translate_mapped"]


def formats_of(doc: MappingDocument, source: str | None, target: str | None) -> tuple[str, str]:
    """The (source, target) of a translation through `doc`, or `ValueError` saying why not.

    A document into canonical fixes the source (its foreign format) and lets the target be
    any built-in format (canonical by default); one from canonical fixes the target (its
    id or its `to`) and lets the source be any built-in format (canonical by default).
    """
    if doc.source != CANONICAL:
        if source not in (None, doc.source):
            raise ValueError(
                f"the mapping {doc.id} reads {doc.source} documents, not {source}: leave --from out"
            )
        return doc.source, target or CANONICAL
    if target not in (None, doc.id, doc.target):
        raise ValueError(
            f"the mapping {doc.id} writes {doc.target} documents, not {target}: leave --to out"
        )
    return source or CANONICAL, doc.id


def translate_mapped(
    loaded: Loaded, value: Any, source: str, target: str, memory_mb: int = 256
) -> Translation:
    """`value` translated through the mapping document (`formats_of` gave the pair).

    Raises `InvalidDocument` for an input or output that breaks its schema and
    `RuleFailed` for a rule that fails or goes over its bounds.
    """
    doc = loaded.compiled.doc

    def run(program: Program, data: Any) -> Any:
        return run_capped(program, data, memory_mb) if memory_mb else program.run(data)

    if doc.source != CANONICAL:
        _validate(loaded.source_validator, value, doc.source)
        plain = _passport(run(loaded.compiled.forward, value), doc.id)
        onward = translate(plain, CANONICAL, target)
        declared = _declared(doc, plain, into_canonical=True)
        report = Report(
            doc.source,
            target,
            dropped=onward.report.dropped,
            lossy=declared.lossy + onward.report.lossy,
            defaulted=declared.defaulted,
        )
        return Translation(onward.output, report)
    plain = to_plain(from_plain(Passport, translate(value, source, CANONICAL).output))
    output = run(loaded.compiled.forward, plain)
    _validate(loaded.target_validator, output, doc.target)
    declared = _declared(doc, plain, into_canonical=False)
    return Translation(output, Report(source, doc.id, declared.dropped, declared.lossy))


def _validate(validator: Draft202012Validator | None, doc: Any, name: str) -> None:
    if validator is None:
        return
    violations = [
        Violation(pointer(err.absolute_path), err.message) for err in validator.iter_errors(doc)
    ]
    if violations:
        raise InvalidDocument(name, violations)


def _passport(output: Any, mapping_id: str) -> Any:
    """The rules' output as a canonical passport (defaults filled), or why it is not one."""
    try:
        return to_plain(from_plain(Passport, output))
    except DecodeError as exc:
        hint = f"as the mapping {mapping_id} wrote it"
        raise InvalidDocument(CANONICAL, [Violation(exc.path, exc.message)], hint) from None


class _Declared:
    def __init__(self) -> None:
        self.dropped: list[Loss] = []
        self.lossy: list[Loss] = []
        self.defaulted: list[Loss] = []


def _declared(doc: MappingDocument, plain: Any, *, into_canonical: bool) -> _Declared:
    """The losses the document declares, for the canonical fields this passport holds.

    From canonical, an unmapped field holding values is dropped; into canonical, it is a
    field the foreign format does not fill, so canonical has its default.
    """
    found = _Declared()
    declared = doc.declared()
    for path in leaf_paths():
        status, reason, _ = declared.get(path, ("", "", None))
        if status not in ("LOSSY", "UNMAPPED"):
            continue
        if status == "UNMAPPED" and into_canonical:
            found.defaulted.append(Loss(path, LossKind.DEFAULTED, reason))
            continue
        count = sum(1 for v in values_at(plain, path) if v not in (None, "", []))
        if count:
            kind = LossKind.LOSSY if status == "LOSSY" else LossKind.DROPPED
            (found.lossy if status == "LOSSY" else found.dropped).append(
                Loss(path, kind, reason, count)
            )
    return found
