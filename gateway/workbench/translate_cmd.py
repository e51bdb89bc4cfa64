"""`robopass translate`: one document or an NDJSON batch from one format into another.

A document that fails produces no output at all; in a batch the others still do, and
the output holds exactly the documents that translated. Exit status: see `parsers.py`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from adapters.errors import InvalidDocument, Violation
from adapters.mapdoc import MappingError
from adapters.mapengine import RuleFailed
from adapters.translate import FORMATS, Report, Translation, translate
from gateway.service.mapdocs import Loaded, load_mapping

from .documents import Item, dump, is_ndjson, line_count, output, read_items, write_atomically
from .losses import report_dict, summary_lines, tally, violation_dict
from .mapped import formats_of, translate_mapped

__all__ = ["cmd_translate", "unknown_format"]

PROG = "robopass translate"


def unknown_format(*names: str) -> str | None:
    """The message for the first name that is not a format, or None when all are known."""
    for name in names:
        if name not in FORMATS:
            return f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}"
    return None


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def cmd_translate(args: argparse.Namespace) -> int:
    loaded: Loaded | None = None
    if getattr(args, "mapping", None):
        try:
            loaded = load_mapping(Path(args.mapping))
            source, target = formats_of(loaded.compiled.doc, args.source, args.target)
        except FileNotFoundError as exc:
            return _fail(str(exc))
        except MappingError as exc:
            return _fail(f"{exc}\ntest it with: robopass mapping test {args.mapping} SAMPLES")
        except ValueError as exc:
            return _fail(str(exc))
        doc = loaded.compiled.doc
        builtin = target if doc.source != "canonical" else source
        args = argparse.Namespace(**{**vars(args), "source": source, "target": target})
        problem = unknown_format(builtin)
    elif args.source is None or args.target is None:
        return _fail("give --from and --to, or --mapping with a mapping document")
    else:
        problem = unknown_format(args.source, args.target)
    if problem:
        return _fail(problem)
    ndjson = args.ndjson or is_ndjson(args.input)
    if args.input != "-" and not Path(args.input).is_file():
        return _fail(f"cannot read {args.input}: no such file")
    if args.output and not Path(args.output).resolve().parent.is_dir():
        return _fail(f"cannot write {args.output}: no such directory")
    try:
        items = read_items(args.input, ndjson)
        results = (
            _batch(args, items, loaded)
            if ndjson
            else [_single(args, item, loaded) for item in items]
        )
    except OSError as exc:
        return _fail(f"cannot read {args.input}: {exc.strerror or exc}")
    reports = [r.report for r in results if r.report is not None]
    failed = len(results) - len(reports)
    print(
        f"{PROG}: {args.source} -> {args.target}: {len(reports)} translated, {failed} failed",
        file=sys.stderr,
    )
    if reports:
        print("\n".join(summary_lines(tally(reports))), file=sys.stderr)
    if args.report:
        _write_report(args, results)
    return 1 if failed else 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one input document: its loss report, or why it was refused."""

    line: int | None
    report: Report | None = None
    error: str | None = None
    violations: tuple[Violation, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"line": self.line, "translated": self.report is not None}
        if self.report is not None:
            return {**head, **report_dict(self.report)}
        violations = [violation_dict(v) for v in self.violations]
        return {**head, "error": self.error, "violations": violations}


def _attempt(args: argparse.Namespace, item: Item, loaded: Loaded | None) -> tuple[Any, Outcome]:
    """Translate one item: its output and outcome; a refusal is also told on stderr."""
    if item.error is not None:
        _say(f"{item.label}: {item.error}")
        return None, Outcome(item.line, error=item.error)
    try:
        result = _translate(args, item.value, loaded)
    except RuleFailed as exc:
        _say(f"{item.label}: mapping {args.mapping}: {exc}")
        return None, Outcome(item.line, error=str(exc))
    except InvalidDocument as exc:
        where = "input" if exc.format == args.source else f"output as {exc.format}"
        count = f"{len(exc.violations)} violation(s)"
        if exc.hint and where == "input":  # another format's document: its violations are noise
            _say(f"{item.label}: invalid {where}: {exc.hint} ({count}; --report FILE lists them)")
        else:
            said = f" ({exc.hint})" if exc.hint else ""
            head = f"{item.label}: invalid {where}{said}, {count}:"
            _say("\n".join([head, *(f"  {v}" for v in exc.violations)]))
        return None, Outcome(item.line, error=f"invalid {where}", violations=tuple(exc.violations))
    return result.output, Outcome(item.line, report=result.report)


def _translate(args: argparse.Namespace, value: Any, loaded: Loaded | None) -> Translation:
    if loaded is None:
        return translate(value, args.source, args.target)
    return translate_mapped(loaded, value, args.source, args.target, args.memory)


def _say(message: str) -> None:
    tqdm.write(f"{PROG}: {message}", file=sys.stderr)


def _single(args: argparse.Namespace, item: Item, loaded: Loaded | None) -> Outcome:
    out, outcome = _attempt(args, item, loaded)
    if outcome.report is not None:
        with output(args.output) as stream:
            stream.write(dump(out, pretty=True))
    return outcome


def _batch(args: argparse.Namespace, items: Iterable[Item], loaded: Loaded | None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    total = line_count(args.input)
    with output(args.output) as stream:
        for item in tqdm(items, total=total, unit="doc", file=sys.stderr, disable=None):
            out, outcome = _attempt(args, item, loaded)
            outcomes.append(outcome)
            if outcome.report is not None:
                stream.write(dump(out, pretty=False) + b"\n")
            elif not args.keep_going:
                _say(f"stopped at {item.label}; --keep-going translates the rest")
                break
    return outcomes


def _write_report(args: argparse.Namespace, outcomes: list[Outcome]) -> None:
    documents = [o.as_dict() for o in outcomes]
    translated = sum(1 for o in outcomes if o.report is not None)
    body = {
        "source": args.source,
        "target": args.target,
        "input": args.input,
        "translated": translated,
        "failed": len(outcomes) - translated,
        "documents": documents,
    }
    write_atomically(Path(args.report), dump(body, pretty=True))
