"""`robopass mapping check|samples|test|new`: test format mappings on samples (standards bodies).

`check` and `samples` test robopass's built-in mappings; `test` and `new` work on mapping
documents, the mappings standards bodies write as data (docs/formats/mapping-documents.md).

Only the options live here; the checks are the workbench's
(gateway/workbench/mapping_cmd.py), imported when the command runs. The
reference schemas default to `workbench.reference` (ROBOPASS_REFERENCE).
"""

from __future__ import annotations

import argparse

from gateway.cli.defaults import configured
from gateway.cli.translate import add_format_pair

CHECK = """\
For each sample: validate it, translate it, judge the output with independent checkers
(AAS: aas-core3.0 and a strict BaSyx load; UNTP: the official 0.6.1 schema and robopass's
own), translate it back and diff it against the original field by field in canonical
form. A difference the mapping tables predict is loss, not failure; any other is a
failure. Prints a verdict per sample and the coverage matrix.

exit status: 0 every sample passed, 1 any failed, 2 usage (unknown format, missing file)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `mapping check` and `mapping samples` to the `robopass` commands."""
    mapping = sub.add_parser("mapping", help="test format mappings on samples (standards bodies)")
    cmds = mapping.add_subparsers(dest="mapping_command", required=True)

    check = cmds.add_parser(
        "check",
        help="validate, translate, check independently, translate back and diff each sample",
        description=CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_format_pair(check)
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
    check.set_defaults(func=cmd_check)

    samples = cmds.add_parser(
        "samples", help="regenerate the golden samples (fleet inputs and expected outputs)"
    )
    samples.add_argument("--out", default="samples", help="the samples folder (default: samples)")
    samples.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file would change"
    )
    samples.set_defaults(func=cmd_samples)
    register_documents(cmds)


def cmd_check(args: argparse.Namespace) -> int:
    from gateway.workbench.mapping_cmd import cmd_check as check_samples

    if args.reference is None:
        reference = configured().workbench.reference
        args = argparse.Namespace(**{**vars(args), "reference": reference})
    return check_samples(args)


def cmd_samples(args: argparse.Namespace) -> int:
    from gateway.workbench.mapping_cmd import cmd_samples as write_samples

    return write_samples(args)


TEST = """\
Validate the mapping document (every problem with its rule and line), then for each sample:
validate it, run the rules, validate the output against the target schema, run the inverse
and diff the round trip field by field in canonical form. A change, or a value no rule
carries, that the document does not declare lossy or unmapped fails the sample. Ends with
the coverage matrix of canonical fields.

SAMPLE is a file (JSON, or NDJSON with one sample per line) or a folder searched for
*.<from>.json; for a mapping from canonical also for the built-in formats' samples
(*.cn-miit.json, *.aas.json, *.untp-dpp.json), read into canonical first.

exit status: 0 the document is valid and every sample passed, 1 otherwise, 2 usage."""


def register_documents(cmds: argparse._SubParsersAction) -> None:
    """Add `mapping test` and `mapping new`, the commands over mapping documents."""
    test = cmds.add_parser(
        "test",
        help="test a mapping document (docs/formats/mapping-documents.md) on samples",
        description=TEST,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    test.add_argument("mapping", metavar="MAPPING", help="the mapping document (.yaml or .json)")
    test.add_argument("samples", nargs="+", metavar="SAMPLE", help="files or folders of samples")
    test.add_argument(
        "--memory",
        type=int,
        default=256,
        metavar="MB",
        help="memory a document's rules may use, in a child process (default 256; 0: no cap)",
    )
    test.set_defaults(func=cmd_test)

    new = cmds.add_parser(
        "new", help="write a starting mapping document with one rule per field of a draft schema"
    )
    new.add_argument(
        "--from",
        dest="source",
        default="canonical",
        metavar="FORMAT",
        help="the source format: canonical passports (default) or cn-miit registry records, "
        "whose schema is written beside the document and whose fields are listed in it",
    )
    new.add_argument(
        "--to-schema", required=True, metavar="SCHEMA", help="the target's draft JSON Schema"
    )
    new.add_argument("--id", help="the mapping's id (default: the schema file's first name part)")
    new.add_argument("-o", "--output", metavar="OUT", help="default: <name>.mapping.yaml beside it")
    new.add_argument("--force", action="store_true", help="replace OUT if it exists")
    new.set_defaults(func=cmd_new)


def cmd_test(args: argparse.Namespace) -> int:
    from gateway.workbench.maptest_cmd import cmd_test as test_document

    return test_document(args)


def cmd_new(args: argparse.Namespace) -> int:
    from gateway.workbench.maptest_cmd import cmd_new as new_document

    return new_document(args)
