"""Mapping documents: a mapping between canonical and another format, written as data.

A standards body describes its mapping in a YAML or JSON file (the language is published as
`schema/formats/mapping.schema.json` and explained in docs/formats/mapping-documents.md)
instead of writing Python inside robopass. This module reads such a document into typed
rules and checks everything that can be checked without running it: the document against
its schema, unique rule names, that every field a rule or a declaration names exists, and
that every expression parses. Each problem names the rule and the line of the document it
is on, since the author fixes the file, not a data structure. Pure: the caller reads files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from schema.fields import leaf_paths

from .errors import pointer

__all__ = [
    "CANONICAL",
    "FieldLoss",
    "MappingDocument",
    "MappingError",
    "Problem",
    "Rule",
    "canonical_names",
    "parse",
]

CANONICAL = "canonical"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a mapping document: where (rule, line) and what."""

    message: str
    line: int | None = None
    rule: str | None = None

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line else []
        if self.rule:
            where.insert(0, f"rule {self.rule!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class MappingError(ValueError):
    """A mapping document cannot be used; `problems` lists every one found."""

    def __init__(self, origin: str, problems: list[Problem]) -> None:
        self.origin = origin
        self.problems = problems
        lines = "\n".join(f"  {origin}: {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in mapping document {origin}:\n{lines}")


@dataclass(frozen=True, slots=True)
class FieldLoss:
    """What a rule keeps of one canonical field: lossless (`lossy` None) or how it changes."""

    path: str
    lossy: str | None = None

    @property
    def status(self) -> str:
        return "LOSSY" if self.lossy else "LOSSLESS"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: a JSONata expression whose value goes to `target` (None: the whole output)."""

    name: str
    line: int
    expression: str
    target: str | None = None
    fields: tuple[FieldLoss, ...] = ()
    note: str = ""

    def where(self) -> str:
        return f"rule {self.name!r} (line {self.line})"


@dataclass(frozen=True, slots=True)
class MappingDocument:
    """A parsed mapping document. `origin` names its file in every message."""

    origin: str
    id: str
    version: str
    source: str
    target: str
    rules: tuple[Rule, ...]
    inverse: tuple[Rule, ...] = ()
    unmapped: Mapping[str, str] = field(default_factory=dict)
    unmapped_lines: Mapping[str, int] = field(default_factory=dict)
    target_schema: str | None = None
    source_schema: str | None = None
    title: str = ""
    lines: Mapping[str, int] = field(default_factory=dict)

    def line(self, *parts: str | int) -> int:
        """The line of the document that holds a key (a JSON pointer's parts)."""
        return _line_of(dict(self.lines), tuple(parts))

    def declared(self) -> dict[str, tuple[str, str, Rule | None]]:
        """Canonical leaf path -> (LOSSLESS | LOSSY | UNMAPPED, reason, rule declaring it)."""
        found: dict[str, tuple[str, str, Rule | None]] = {}
        for prefix, reason in self.unmapped.items():
            for path in _under(prefix):
                found[path] = ("UNMAPPED", reason, None)
        for rule in self.rules:
            for loss in rule.fields:
                found[loss.path] = (loss.status, loss.lossy or "", rule)
        return found


@cache
def _document_schema() -> Draft202012Validator:
    text = resources.files("schema").joinpath("formats/mapping.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


@cache
def canonical_names() -> frozenset[str]:
    """Every name a canonical field path is made of (`identity`, `serial`, `joint_wear`...)."""
    return frozenset(part for path in leaf_paths() for part in path.split("."))


def _under(prefix: str) -> list[str]:
    return [p for p in leaf_paths() if p == prefix or p.startswith(prefix + ".")]


def _lines(node: yaml.Node, at: tuple[str | int, ...], out: dict[str, int]) -> None:
    out[pointer(at)] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[pointer((*at, str(key.value)))] = key.start_mark.line + 1
            _lines(value, (*at, str(key.value)), out)
            out[pointer((*at, str(key.value)))] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*at, i), out)


def _line_of(lines: dict[str, int], parts: Iterator[str | int] | tuple[str | int, ...]) -> int:
    """The line of the nearest enclosing node a pointer reaches."""
    at = list(parts)
    while at and pointer(at) not in lines:
        at.pop()
    return lines.get(pointer(at), 1)


def _rule_name(data: Any, parts: list[str | int]) -> str | None:
    if len(parts) >= 2 and parts[0] in ("rules", "inverse") and isinstance(parts[1], int):
        items = data.get(parts[0]) if isinstance(data, dict) else None
        if isinstance(items, list) and parts[1] < len(items) and isinstance(items[parts[1]], dict):
            name = items[parts[1]].get("name")
            return name if isinstance(name, str) else f"#{parts[1] + 1}"
    return None


def parse(text: str, origin: str) -> MappingDocument:
    """Read a mapping document (YAML, or JSON, which YAML reads too) and check its shape.

    Raises `MappingError` with every problem, each with its line. Names of fields and
    expressions are checked afterwards by `adapters.mapcheck.check`, which needs the schemas.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(origin, [Problem(f"not YAML or JSON: {problem}", line)]) from None
    if node is None or not isinstance(data, dict):
        raise MappingError(origin, [Problem("the document must be an object (YAML mapping)", 1)])
    lines: dict[str, int] = {}
    _lines(node, (), lines)
    problems = [
        Problem(
            f"{pointer(err.absolute_path) or '/'}: {err.message}",
            _line_of(lines, tuple(err.absolute_path)),
            _rule_name(data, list(err.absolute_path)),
        )
        for err in sorted(_document_schema().iter_errors(data), key=lambda e: list(e.path))
    ]
    if problems:
        raise MappingError(origin, problems)
    rules = _rules(data, "rules", lines, problems)
    inverse = _rules(data, "inverse", lines, problems) if "inverse" in data else ()
    unmapped = dict(data.get("unmapped", {}))
    if problems:
        raise MappingError(origin, problems)
    return MappingDocument(
        origin=origin,
        id=data["id"],
        version=data["version"],
        title=data.get("title", ""),
        source=data["from"],
        target=data["to"],
        rules=rules,
        inverse=inverse,
        unmapped=unmapped,
        unmapped_lines={k: _line_of(lines, ("unmapped", k)) for k in unmapped},
        target_schema=data.get("target_schema"),
        source_schema=data.get("source_schema"),
        lines=lines,
    )


def _rules(
    data: dict[str, Any], key: str, lines: dict[str, int], problems: list[Problem]
) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data[key]):
        line = _line_of(lines, (key, i))
        name = item["name"]
        if name in seen:
            problems.append(
                Problem(f"the name is used twice in {key} (first on line {seen[name]})", line, name)
            )
        seen.setdefault(name, line)
        fields = tuple(
            FieldLoss(path, None if value == "lossless" else value["lossy"])
            for path, value in item.get("fields", {}).items()
        )
        rules.append(
            Rule(name, line, item["expression"], item.get("target"), fields, item.get("note", ""))
        )
    return tuple(rules)
