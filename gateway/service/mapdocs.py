"""Reading mapping documents from files: the I/O edge of `adapters.mapdoc`.

A mapping document names its target's (and optionally its source's) JSON Schema by a path
relative to itself, so a standards body can keep a draft schema and its mapping in one
folder. Schemas are read from files only: nothing is downloaded at run time, so a schema
given as a URL is refused with the next step (save it beside the document).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from adapters.mapcheck import Compiled, check
from adapters.mapdoc import CANONICAL, MappingError, Problem, parse
from adapters.mapengine import Limits, Program

__all__ = ["SUFFIXES", "Loaded", "load_folder", "load_mapping"]


@dataclass(frozen=True, slots=True)
class Loaded:
    """A checked, compiled mapping document and the schemas it was checked against."""

    compiled: Compiled
    target_schema: Any | None
    source_schema: Any | None
    target_validator: Draft202012Validator | None
    source_validator: Draft202012Validator | None


def load_mapping(path: Path, limits: Limits | None = None) -> Loaded:
    """Read, parse, check and compile a mapping document; `MappingError` on any problem.

    Raises `FileNotFoundError` when the document itself cannot be read.
    """
    origin = str(path)
    try:
        text = path.read_text("utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise FileNotFoundError(f"cannot read mapping document {path}: no such file") from None
    except UnicodeDecodeError:
        raise MappingError(origin, [Problem("the file is not UTF-8 text", 1)]) from None
    doc = parse(text, origin)
    target = _schema(path, "target_schema", doc.target_schema, doc.line("target_schema"))
    source = _schema(path, "source_schema", doc.source_schema, doc.line("source_schema"))
    compiled = check(doc, target, source, limits)
    return Loaded(
        compiled,
        target,
        source,
        Draft202012Validator(target) if target is not None else None,
        Draft202012Validator(source) if source is not None else None,
    )


def _schema(doc_path: Path, key: str, name: str | None, line: int) -> Any | None:
    if name is None:
        return None
    origin = str(doc_path)
    if "://" in name:
        message = (
            f"{key}: {name} is a URL; nothing is downloaded: save the schema beside "
            "the document and name its file"
        )
        raise MappingError(origin, [Problem(message, line)])
    file = doc_path.parent / name
    try:
        schema = orjson.loads(file.read_bytes())
    except OSError:
        raise MappingError(
            origin, [Problem(f"{key}: cannot read {file}: no such file", line)]
        ) from None
    except json.JSONDecodeError as exc:
        raise MappingError(origin, [Problem(f"{key}: {file} is not JSON: {exc}", line)]) from None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise MappingError(
            origin, [Problem(f"{key}: {file} is not a JSON Schema: {exc.message}", line)]
        ) from None
    return schema


SUFFIXES = (".mapping.yaml", ".mapping.yml", ".mapping.json")


def load_folder(
    folder: Path, reserved: tuple[str, ...] = (), limits: Limits | None = None
) -> dict[str, Program]:
    """The export programs of every mapping document from canonical in `folder`, by id.

    Documents into canonical (readers of a foreign format) are not export formats and are
    left out. Raises `MappingError` for the first document with a problem, an id used
    twice or one of `reserved` (the built-in formats), and `FileNotFoundError` when the
    folder does not exist.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    programs: dict[str, Program] = {}
    origins: dict[str, str] = {}
    for path in sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIXES)):
        loaded = load_mapping(path, limits)
        doc = loaded.compiled.doc
        if doc.source != CANONICAL:
            continue
        clash = origins.get(doc.id) or ("a built-in format" if doc.id in reserved else None)
        if clash:
            problem = Problem(f"id {doc.id!r} is already {clash}", doc.line("id"))
            raise MappingError(str(path), [problem])
        programs[doc.id] = loaded.compiled.forward
        origins[doc.id] = f"the id of {path}"
    return programs
