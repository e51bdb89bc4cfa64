"""Checks of a mapping document against the formats it joins, before any sample runs.

A misspelt field in JSONata is not an error: the path gives nothing and the output quietly
lacks the field. So every name an expression reads is looked up in the source format (the
canonical field names, or the property names of the source's JSON Schema), every rule's
target in the target format, and every declared field in the canonical catalogue. Each
problem names the rule and its line. The name scan is lexical (strings, comments, regular
expressions and `$variables` skipped), so it can only be wrong towards reporting a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from schema.fields import leaf_paths

from .mapdoc import CANONICAL, MappingDocument, MappingError, Problem, Rule, canonical_names
from .mapengine import Limits, Program, RuleFailed, compile_rules

__all__ = ["Compiled", "check", "expression_names", "read_sections", "schema_names"]

_TOKEN = re.compile(
    r"""(?P<comment>/\*.*?\*/)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<quoted>`[^`]*`)
    | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<variable>\$[A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<regex>/(?:[^/\\\n]|\\.)+/[a-z]*)
    | (?P<other>\S)""",
    re.VERBOSE | re.DOTALL,
)
_KEYWORDS = frozenset({"and", "or", "in", "true", "false", "null", "function"})
_OPERAND = frozenset({"(", ",", "[", ":", "?", "=", "{", ";", "~", ">", "<", "|", "&", None})


def expression_names(expression: str) -> Iterator[str]:
    """The field names an expression reads (not variables, keys in strings, or functions)."""
    previous: str | None = None
    after_variable = False
    for match in _TOKEN.finditer(expression):
        kind, text = match.lastgroup, match.group()
        if kind == "regex" and previous not in _OPERAND:
            # a division: rescan from the slash as an operator
            previous, after_variable = "/", False
            yield from expression_names(expression[match.start() + 1 :])
            return
        if kind == "name" and text not in _KEYWORDS and not after_variable:
            yield text
        elif kind == "quoted":
            yield text[1:-1]
        after_variable = kind == "variable" or (after_variable and text == ".")
        if kind == "variable" and match.end() < len(expression) and expression[match.end()] == "(":
            after_variable = False
        previous = text if kind == "other" else kind
    return


def schema_names(schema: Any) -> frozenset[str]:
    """Every property name a JSON Schema declares, wherever it declares it."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                found.update(props)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return frozenset(found)


def _schema_has(root: Any, node: Any, parts: list[str]) -> bool:
    """Whether a dot path leads through a JSON Schema's properties (into items and refs)."""
    if not parts:
        return True
    return any(
        isinstance(props := alt.get("properties"), dict)
        and parts[0] in props
        and _schema_has(root, props[parts[0]], parts[1:])
        for alt in _alternatives(root, node, 0)
    )


def _alternatives(root: Any, node: Any, depth: int) -> Iterator[dict[str, Any]]:
    """A schema node, what its local `$ref` points to, its combinators' branches and items."""
    if not isinstance(node, dict) or depth > 20:
        return
    yield node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = (
                target.get(part.replace("~1", "/").replace("~0", "~"), {})
                if isinstance(target, dict)
                else {}
            )
        yield from _alternatives(root, target, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(key, []) or []:
            yield from _alternatives(root, branch, depth + 1)
    for key in ("items", "then", "else"):
        if isinstance(node.get(key), dict):
            yield from _alternatives(root, node[key], depth + 1)


_CANONICAL_PREFIXES = frozenset(
    ".".join(path.split(".")[:i]) for path in leaf_paths() for i in range(1, path.count(".") + 2)
)


class Compiled:
    """A checked mapping document with both directions compiled."""

    def __init__(self, doc: MappingDocument, forward: Program, inverse: Program | None) -> None:
        self.doc = doc
        self.forward = forward
        self.inverse = inverse


def check(
    doc: MappingDocument,
    target_schema: Any | None,
    source_schema: Any | None = None,
    limits: Limits | None = None,
) -> Compiled:
    """Check names and expressions and compile; `MappingError` lists every problem."""
    problems: list[Problem] = []
    leaves = frozenset(leaf_paths())
    source_names = canonical_names() if doc.source == CANONICAL else _names(source_schema)
    target_names = canonical_names() if doc.target == CANONICAL else _names(target_schema)
    for rule in doc.rules:
        problems += _rule_problems(rule, source_names, doc.target, target_schema, leaves)
    for rule in doc.inverse:
        problems += _rule_problems(rule, target_names, doc.source, source_schema, leaves)
    for prefix, line in doc.unmapped_lines.items():
        if prefix not in _CANONICAL_PREFIXES:
            problems.append(Problem(f"unmapped: {prefix!r} is not a canonical field", line))
    forward = _compile_all(doc.rules, limits, problems, doc.source == CANONICAL)
    inverse = (
        _compile_all(doc.inverse, limits, problems, doc.target == CANONICAL)
        if doc.inverse
        else None
    )
    if problems:
        raise MappingError(doc.origin, problems)
    assert forward is not None
    return Compiled(doc, forward, inverse)


def _names(schema: Any | None) -> frozenset[str] | None:
    return None if schema is None else schema_names(schema)


def _rule_problems(
    rule: Rule,
    reads: frozenset[str] | None,
    writes: str,
    write_schema: Any | None,
    leaves: frozenset[str],
) -> list[Problem]:
    found: list[Problem] = []
    for loss in rule.fields:
        if loss.path not in leaves:
            found.append(
                Problem(f"fields: {loss.path!r} is not a canonical field", rule.line, rule.name)
            )
    if reads is not None:
        unknown = sorted({n for n in expression_names(rule.expression) if n not in reads})
        for name in unknown:
            found.append(
                Problem(
                    f"the expression reads {name!r}, which the source format does not have",
                    rule.line,
                    rule.name,
                )
            )
    if rule.target is not None:
        parts = rule.target.split(".")
        if writes == CANONICAL:
            if rule.target not in _CANONICAL_PREFIXES:
                found.append(
                    Problem(
                        f"target {rule.target!r} is not a canonical field", rule.line, rule.name
                    )
                )
        elif write_schema is not None and not _schema_has(write_schema, write_schema, parts):
            found.append(
                Problem(
                    f"target {rule.target!r} is not a property of the target schema",
                    rule.line,
                    rule.name,
                )
            )
    return found


_SECTIONS = frozenset(path.split(".")[0] for path in leaf_paths())


def read_sections(rules: tuple[Rule, ...]) -> frozenset[str] | None:
    """The canonical sections a set of rules can read, or None when one of them may read
    anything: the context itself (`$`, `$$`), wildcards, descendants or a parent (`*`,
    `%`; a multiplication counts too, to stay on the safe side)."""
    names: set[str] = set()
    for rule in rules:
        for match in _TOKEN.finditer(rule.expression):
            kind, text = match.lastgroup, match.group()
            if (kind == "variable" and text in ("$", "$$")) or (kind == "other" and text in "*%"):
                return None
        names.update(expression_names(rule.expression))
    return frozenset(names & _SECTIONS)


def _compile_all(
    rules: tuple[Rule, ...],
    limits: Limits | None,
    problems: list[Problem],
    reads_canonical: bool = False,
) -> Program | None:
    compiled = []
    for rule in rules:
        try:
            compiled.append(compile_rules((rule,), limits).rules[0])
        except RuleFailed as exc:
            problems.append(Problem(exc.reason, rule.line, rule.name))
    if len(compiled) != len(rules):
        return None
    sections = read_sections(rules) if reads_canonical else None
    return Program(tuple(compiled), limits or Limits(), sections)
