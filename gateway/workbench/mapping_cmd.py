"""`robopass mapping check` and `robopass mapping samples`.

Exit status: 0 when every sample passed (or the golden samples are current), 1 when any
failed (or a golden file would change), 2 for a usage problem such as a missing file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.translate import coverage_matrix

from .check import SampleResult, check_sample, unreadable
from .checkers import checkers_for, reference_dir
from .documents import NDJSON_SUFFIXES, is_ndjson, output, read_items, write_atomically
from .render import CheckRun, as_json, as_markdown, as_text
from .samples import BadSample, planned_files, stale_files
from .translate_cmd import unknown_format

__all__ = ["cmd_check", "cmd_samples", "sample_files"]

RENDER = {"text": as_text, "markdown": as_markdown, "json": as_json}


def _usage(prog: str, message: str) -> int:
    print(f"robopass mapping {prog}: {message}", file=sys.stderr)
    return 2


def sample_files(names: list[str], source: str) -> list[Path]:
    """Files as given; a folder gives its `*.<source>.json` (or `.ndjson`, `.jsonl`) files."""
    suffixes = tuple(f".{source}{ext}" for ext in (".json", *NDJSON_SUFFIXES))
    found: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.name.endswith(suffixes) and p.is_file())
            if not inside:
                raise FileNotFoundError(f"no *.{source}.json samples under {name}")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"cannot read {name}: no such file")
    return found


def cmd_check(args: argparse.Namespace) -> int:
    problem = unknown_format(args.source, args.target)
    if problem:
        return _usage("check", problem)
    try:
        files = sample_files(args.samples, args.source)
    except FileNotFoundError as exc:
        return _usage("check", str(exc))
    if args.output and not Path(args.output).resolve().parent.is_dir():
        return _usage("check", f"cannot write {args.output}: no such directory")
    checkers = checkers_for(args.target, reference_dir(args.reference))
    results: list[SampleResult] = []
    for path in files:
        for item in read_items(str(path), is_ndjson(path.name)):
            if item.error is not None:
                results.append(unreadable(item.label, args.source, args.target, item.error))
            else:
                results.append(
                    check_sample(item.label, item.value, args.source, args.target, checkers)
                )
    if not results:
        return _usage("check", "the samples hold no documents")
    run = CheckRun(args.source, args.target, tuple(results), coverage_matrix())
    with output(args.output) as stream:
        stream.write(RENDER[args.report](run).encode())
    return 1 if run.failed else 0


def cmd_samples(args: argparse.Namespace) -> int:
    root = Path(args.out)
    try:
        planned = planned_files(root)
    except BadSample as exc:
        print(f"robopass mapping samples: {exc}", file=sys.stderr)
        return 1
    changed = [p for p, data in planned.items() if not p.is_file() or p.read_bytes() != data]
    stale = stale_files(root, planned)
    if args.check:
        for path in changed:
            print(f"out of date: {path}")
        for path in stale:
            print(f"not generated any more: {path}")
        if changed or stale:
            print("regenerate with: robopass mapping samples --out " + str(root))
        return 1 if changed or stale else 0
    for path in changed:
        write_atomically(path, planned[path])
    for path in stale:
        path.unlink()
    print(f"{len(planned)} sample files under {root}: {len(changed)} written, {len(stale)} removed")
    return 0
