"""`robopass translate`: passport documents from one format into another, with a loss report.

Only the options live here; the translation is the workbench's
(gateway/workbench/translate_cmd.py), imported when the command runs so the
adapters (aas-core3.0, JSON Schemas) never load for other commands.
"""

from __future__ import annotations

import argparse

FORMAT_HELP = "a format name: canonical, cn-miit, aas, untp-dpp (an unknown name lists them)"

TRANSLATE = """\
Translate passport documents from one format into another, with a loss report on stderr.

IN is a JSON file, - for stdin, or an NDJSON batch (one document per line: a .ndjson or
.jsonl file, or --ndjson). A document that fails is named with every violation and its
JSON pointer and produces no output; a batch stops there unless --keep-going.

--mapping DOC translates through a mapping document (docs/formats/mapping-documents.md):
one into canonical reads its foreign format (--from is its own; --to any format, default
canonical), one from canonical writes its format (--to is its own; --from any format,
default canonical). Its rules run in a child process with a memory cap (--memory MB).

exit status: 0 every document translated, 1 any was refused, 2 usage (unknown format,
missing file)."""


def add_format_pair(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """`--from` and `--to`, as `translate` and `mapping check` both take them."""
    parser.add_argument(
        "--from", dest="source", required=required, metavar="FORMAT", help=FORMAT_HELP
    )
    parser.add_argument(
        "--to", dest="target", required=required, metavar="FORMAT", help=FORMAT_HELP
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add `translate` to the `robopass` commands."""
    p = sub.add_parser(
        "translate",
        help="translate passport documents between formats, with a loss report",
        description=TRANSLATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_format_pair(p, required=False)
    p.add_argument(
        "--mapping", metavar="DOC", help="translate through this mapping document (.yaml, .json)"
    )
    p.add_argument(
        "--memory",
        type=int,
        default=256,
        metavar="MB",
        help="with --mapping: memory its rules may use, in a child (default 256; 0: no cap)",
    )
    p.add_argument("input", metavar="IN", help="a JSON or NDJSON file, or - for stdin")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout)")
    p.add_argument("--ndjson", action="store_true", help="IN holds one document per line")
    p.add_argument("--keep-going", action="store_true", help="in a batch, go on after a failure")
    p.add_argument("--report", metavar="FILE", help="write the full loss report as JSON")
    p.set_defaults(func=cmd_translate)


def cmd_translate(args: argparse.Namespace) -> int:
    from gateway.workbench.translate_cmd import cmd_translate as translate_files

    return translate_files(args)
