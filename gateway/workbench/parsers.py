"""The workbench's command-line parsers, kept free of heavy imports.

`robopass` builds every parser on each run, so the adapters (aas-core3.0, JSON Schemas)
are imported only when a workbench command actually runs.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_mapping_command", "add_translate_command"]

FORMAT_HELP = "a format name: canonical, cn-miit, aas, untp-dpp (an unknown name lists them)"

TRANSLATE = """\
Translate passport documents from one format into another, with a loss report on stderr.

IN is a JSON file, - for stdin, or an NDJSON batch (one document per line: a .ndjson or
.jsonl file, or --ndjson). A document that fails is named with every violation and its
JSON pointer and produces no output; a batch stops there unless --keep-going.

exit status: 0 every document translated, 1 any was refused, 2 usage (unknown format,
missing file)."""

CHECK = """\
For each sample: validate it, translate it, judge the output with independent checkers
(AAS: aas-core3.0 and a strict BaSyx load; UNTP: the official 0.6.1 schema and robopass's
own), translate it back and diff it against the original field by field in canonical
form. A difference the mapping tables predict is loss, not failure; any other is a
failure. Prints a verdict per sample and the coverage matrix.

exit status: 0 every sample passed, 1 any failed, 2 usage (unknown format, missing file)."""


def _translate(args: argparse.Namespace) -> int:
    from .translate_cmd import cmd_translate

    return cmd_translate(args)


def _check(args: argparse.Namespace) -> int:
    from .mapping_cmd import cmd_check

    return cmd_check(args)


def _samples(args: argparse.Namespace) -> int:
    from .mapping_cmd import cmd_samples

    return cmd_samples(args)


def _pair(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="FORMAT", help=FORMAT_HELP)
    parser.add_argument("--to", dest="target", required=True, metavar="FORMAT", help=FORMAT_HELP)


def add_translate_command(sub: Any) -> None:
    p = sub.add_parser(
        "translate",
        help="translate passport documents between formats, with a loss report",
        description=TRANSLATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _pair(p)
    p.add_argument("input", metavar="IN", help="a JSON or NDJSON file, or - for stdin")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout)")
    p.add_argument("--ndjson", action="store_true", help="IN holds one document per line")
    p.add_argument("--keep-going", action="store_true", help="in a batch, go on after a failure")
    p.add_argument("--report", metavar="FILE", help="write the full loss report as JSON")
    p.set_defaults(func=_translate)


def add_mapping_command(sub: Any) -> None:
    mapping = sub.add_parser("mapping", help="test format mappings on samples (standards bodies)")
    cmds = mapping.add_subparsers(dest="mapping_command", required=True)

    check = cmds.add_parser(
        "check",
        help="validate, translate, check independently, translate back and diff each sample",
        description=CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _pair(check)
    check.add_argument(
        "samples",
        nargs="+",
        metavar="SAMPLE",
        help="JSON or NDJSON files, or folders searched for *.<from>.json",
    )
    check.add_argument(
        "--report", choices=["text", "markdown", "json"], default="text", help="report style"
    )
    check.add_argument("-o", "--output", metavar="OUT", help="write the report here, not stdout")
    check.add_argument(
        "--reference", metavar="DIR", help="folder with the official schemas (untp/, aas/)"
    )
    check.set_defaults(func=_check)

    samples = cmds.add_parser(
        "samples", help="regenerate the golden samples (fleet inputs and expected outputs)"
    )
    samples.add_argument("--out", default="samples", help="the samples folder (default: samples)")
    samples.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file would change"
    )
    samples.set_defaults(func=_samples)
