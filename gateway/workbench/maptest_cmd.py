"""`robopass mapping test` and `robopass mapping new`: mapping documents on the workbench.

`test` exits 0 when the document is valid and every sample passed, 1 when the document has
a problem or any sample failed, 2 for a usage problem (a missing file). `new` writes a
starting document that lists every field of a draft target schema, for the author to fill.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml

from adapters.mapdoc import CANONICAL, MappingError
from adapters.translate import FORMATS
from gateway.service.mapdocs import load_mapping
from schema.fields import leaf_paths

from .documents import NDJSON_SUFFIXES, is_ndjson, read_items
from .maptest import Sample, SampleVerdict, coverage, run_sample

__all__ = ["cmd_new", "cmd_test", "schema_fields"]


def _say(prog: str, message: str, code: int) -> int:
    print(f"robopass mapping {prog}: {message}", file=sys.stderr)
    return code


def _sample_files(names: list[str], source: str) -> list[tuple[Path, str]]:
    """(file, format) per sample file. A folder gives its `*.<source>.json` files; for a
    canonical source also the registry records (`*.cn-miit.json`), read into canonical
    first. A file named on the command line may be of any built-in format."""
    every = (
        [source] if source != CANONICAL else [CANONICAL, *(f for f in FORMATS if f != CANONICAL)]
    )
    formats = [source] if source != CANONICAL else [CANONICAL, "cn-miit"]
    found: list[tuple[Path, str]] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            inside = [
                (p, fmt)
                for p in sorted(path.rglob("*"))
                if p.is_file() and (fmt := _format_of(p.name, formats)) is not None
            ]
            if not inside:
                raise FileNotFoundError(f"no *.{source}.json samples under {name}")
            found += inside
        elif path.is_file():
            found.append((path, _format_of(path.name, every) or source))
        else:
            raise FileNotFoundError(f"cannot read {name}: no such file")
    return found


def _format_of(name: str, formats: list[str]) -> str | None:
    for fmt in formats:
        if name.endswith(tuple(f".{fmt}{ext}" for ext in (".json", *NDJSON_SUFFIXES))):
            return fmt
    return None


def cmd_test(args: argparse.Namespace) -> int:
    try:
        loaded = load_mapping(Path(args.mapping))
    except FileNotFoundError as exc:
        return _say("test", str(exc), 2)
    except MappingError as exc:
        print(f"FAIL {exc}", file=sys.stdout)
        return 1
    doc = loaded.compiled.doc
    try:
        files = _sample_files(args.samples, doc.source)
    except FileNotFoundError as exc:
        return _say("test", str(exc), 2)
    verdicts: list[SampleVerdict] = []
    for path, fmt in files:
        for item in read_items(str(path), is_ndjson(path.name)):
            if item.error is not None:
                verdicts.append(SampleVerdict(item.label, [item.error]))
            else:
                sample = Sample(item.label, item.value, fmt)
                verdicts.append(run_sample(loaded, sample, args.memory))
    if not verdicts:
        return _say("test", "the samples hold no documents", 2)
    print(_render(doc.id, doc.version, doc.source, doc.target, verdicts, coverage(doc, verdicts)))
    return 0 if all(v.passed for v in verdicts) else 1


def _render(
    name: str,
    version: str,
    source: str,
    target: str,
    verdicts: list[SampleVerdict],
    rows: list[Any],
) -> str:
    lines = [f"mapping {name} {version}: {source} -> {target}, {len(verdicts)} sample(s)", ""]
    for v in verdicts:
        lines.append(f"{'PASS' if v.passed else 'FAIL'} {v.label}")
        lines += [f"  - {f}" for f in v.failures]
        if v.passed and v.expected:
            lines.append(f"  {len(v.expected)} declared change(s) after the round trip")
    lines += [
        "",
        "coverage of canonical fields (samples holding a value / changed by the round trip):",
    ]
    width = max(len(r[0]) for r in rows)
    for path, status, by, carried, changed in rows:
        lines.append(f"  {path:<{width}}  {status:<10}  {carried:>3} {changed:>3}  {by}")
    failed = sum(not v.passed for v in verdicts)
    lines += ["", f"{len(verdicts) - failed} passed, {failed} failed"]
    return "\n".join(lines)


def schema_fields(schema: Any) -> list[tuple[str, dict[str, Any]]]:
    """(dot path, schema node) of every field a draft schema's objects declare, in order:
    objects are walked into, an array of objects is one field (its items written in one rule)."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, prefix: str) -> None:
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict):
            return
        for key, sub in props.items():
            path = f"{prefix}{key}"
            if isinstance(sub, dict) and isinstance(sub.get("properties"), dict):
                walk(sub, path + ".")
            else:
                found.append((path, sub if isinstance(sub, dict) else {}))

    walk(schema, "")
    return found


_SOURCE_SCHEMAS = {"cn-miit": "formats/cn-miit.schema.json"}
"""The built-in formats `mapping new` starts a document from, besides canonical: those whose
records are plain JSON objects a JSON Schema describes field by field. AAS is not among
them: an AAS environment is its meta-model (submodels of elements found by `idShort`), so
its schema names no robot field; its mapping is written from canonical or from cn-miit."""


def source_fields(schema: Any) -> list[str]:
    """Every field path a source schema declares, walking into objects and arrays' items
    (a JSONata path maps over an array: `deploy_recs.scene` is each deployment's scene)."""
    found: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if not isinstance(node, dict):
            return
        if isinstance(node.get("items"), dict):
            walk(node["items"], prefix)
        for key, sub in (node.get("properties") or {}).items():
            path = f"{prefix}{key}"
            found.append(path)
            walk(sub, path + ".")

    walk(schema, "")
    return found


def _source_schema(source: str, folder: Path) -> tuple[str, list[str]] | str:
    """(file name of the source's schema beside OUT, its fields), or why there is none.

    The packaged schema is written beside the new document unless a file of that name is
    there already (the author's, kept)."""
    from importlib import resources

    if source not in _SOURCE_SCHEMAS:
        known = ", ".join([CANONICAL, *_SOURCE_SCHEMAS])
        if source == "aas":
            return (
                "--from aas: an AAS environment's schema is its meta-model and names no "
                f"robot field; start from one of {known} (an AAS document reads into "
                "canonical with `robopass translate --from aas --to canonical`)"
            )
        return f"--from {source}: not a format to start from; use one of {known}"
    packaged = resources.files("schema").joinpath(_SOURCE_SCHEMAS[source]).read_bytes()
    name = f"{source}.schema.json"
    if not (folder / name).exists():
        (folder / name).write_bytes(packaged)
    return name, source_fields(orjson.loads((folder / name).read_bytes()))


def cmd_new(args: argparse.Namespace) -> int:
    draft = Path(args.to_schema)
    try:
        schema = orjson.loads(draft.read_bytes())
    except OSError:
        return _say("new", f"cannot read {draft}: no such file", 2)
    except orjson.JSONDecodeError as exc:
        return _say("new", f"{draft} is not JSON: {exc}", 2)
    out = (
        Path(args.output)
        if args.output
        else draft.with_name(draft.name.split(".")[0] + ".mapping.yaml")
    )
    if out.exists() and not args.force:
        return _say("new", f"{out} exists; choose another with -o or replace it with --force", 2)
    fmt = args.id or draft.name.split(".")[0].lower()
    fields = schema_fields(schema)
    if not fields:
        return _say("new", f"{draft} declares no properties to map", 2)
    source: tuple[str, list[str]] | None = None
    if args.source != CANONICAL:
        found = _source_schema(args.source, out.parent)
        if isinstance(found, str):
            return _say("new", found, 2)
        source = found
    over = "the canonical passport" if source is None else f"the {args.source} record"
    rules = [
        {
            "name": path.replace(".", "-"),
            "target": path,
            "expression": f"null  /* TODO: a JSONata expression over {over} */",
            "fields": {},
            **({"note": node["description"]} if isinstance(node.get("description"), str) else {}),
        }
        for path, node in fields
    ]
    sections = sorted(
        {p.split(".")[0] for p in leaf_paths()}, key=[p.split(".")[0] for p in leaf_paths()].index
    )
    document: dict[str, Any] = {
        "robopass_mapping": 1,
        "id": fmt,
        "version": "0.1.0",
        "from": args.source,
        "to": fmt,
        "target_schema": str(Path(_relative(draft, out.parent))),
        **({"source_schema": source[0]} if source else {}),
        "rules": rules,
    }
    if source is None:
        document["unmapped"] = {
            s: "TODO: map it in a rule's fields, or say why the target has no place for it"
            for s in sections
        }
        header = (
            f"# A starting mapping from canonical passports to {draft.name}, a rule per field."
            "\n# Fill each expression, list the canonical fields each rule carries under "
            "`fields`,\n# take them out of `unmapped`, then: robopass mapping test "
            + str(out)
            + " samples/\n"
        )
    else:
        header = (
            f"# A starting mapping from {args.source} records to {draft.name}, a rule per "
            f"field.\n# Fill each expression over the fields of {source[0]} listed below, "
            "then: robopass mapping test " + str(out) + " samples/\n"
            f"# The fields of a {args.source} record (an array's fields are read through it,"
            " as `deploy_recs.scene`):\n" + "".join(f"#   {name}\n" for name in source[1])
        )
    text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    out.write_text(text, "utf-8")
    print(f"wrote {out}: {len(rules)} rule(s), one per field of {draft}")
    if source is not None:
        print(f"the {args.source} record's {len(source[1])} fields are listed at its top")
    return 0


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())
