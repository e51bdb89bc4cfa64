"""Compile a tree of field specs into a JSON <-> canonical-plain translator.

A JSON format that mirrors the passport's nesting (renamed keys, other units, other codes)
is described once as a tree of `Leaf`, `Obj` and `Joint` specs. From that tree come, all
together: the encoder, the decoder, the mapping rules and the format's JSON Schema.
Optionality and list-ness are read from the canonical dataclasses' type hints, so a spec
cannot disagree with the model about them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .generated import Namespace
from .mapping import SAME, FieldRule, Transform

__all__ = ["Joint", "Leaf", "Obj", "Shape", "compile_shape", "complete", "mirror"]

Plain = dict[str, Any]
Step = Callable[[Plain, Plain], None]


@dataclass(frozen=True, slots=True)
class Leaf:
    """A canonical value field stored under `native` after `transform`."""

    canon: str
    native: str
    transform: Transform = SAME
    schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Obj:
    """A canonical object (or list of objects, or optional object) under `native`.

    `native` None merges the object's fields into the enclosing native object.
    """

    canon: str
    native: str | None
    children: Sequence[Leaf | Obj | Joint]


@dataclass(frozen=True, slots=True)
class Joint:
    """Canonical fields translated together, for when one's home depends on another's value.

    `fields` lists (canonical name, native location, transform) for the table; `encode`
    reads the canonical object and writes native keys, `decode` the reverse. `schema` holds
    the JSON Schema `properties`, `required` and any extra keywords (`allOf`) it adds.
    """

    fields: Sequence[tuple[str, str, Transform]]
    encode: Step
    decode: Step
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Shape:
    encode: Callable[[Plain], Plain]
    decode: Callable[[Plain], Plain]
    rules: list[FieldRule]
    schema: dict[str, Any]


def compile_shape(root: type, children: Sequence[Leaf | Obj | Joint]) -> Shape:
    """Compile the specs of `root`'s fields into a `Shape`."""
    rules: list[FieldRule] = []
    compiled = _compile(root, children, "", "", rules, Namespace())
    return Shape(compiled.encode, compiled.decode, rules, compiled.schema)


def mirror(cls: type) -> list[Leaf | Obj | Joint]:
    """Specs that keep every field of `cls` under its own name: the canonical form itself."""
    specs: list[Leaf | Obj | Joint] = []
    for name, hint in _hints(cls).items():
        if isinstance(hint.inner, type) and dataclasses.is_dataclass(hint.inner):
            specs.append(Obj(name, name, mirror(hint.inner)))
        else:
            specs.append(Leaf(name, name))
    return specs


@dataclass(frozen=True, slots=True)
class _Hint:
    optional: bool
    many: bool
    inner: Any
    doc: str


def _hints(cls: type) -> dict[str, _Hint]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        hint, optional, many = hints[f.name], False, False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            optional = type(None) in typing.get_args(hint)
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if typing.get_origin(hint) is list:
            many, hint = True, typing.get_args(hint)[0]
        out[f.name] = _Hint(optional, many, hint, f.metadata.get("doc", ""))
    return out


@dataclass(frozen=True, slots=True)
class _Compiled:
    encode: Callable[[Plain], Plain]
    encode_into: Step
    decode: Callable[[Plain], Plain]
    schema: dict[str, Any]


def _compile(
    cls: type,
    children: Sequence[Leaf | Obj | Joint],
    path: str,
    loc: str,
    rules: list[FieldRule],
    ns: Namespace,
) -> _Compiled:
    """Generate one object's encoder and decoder, calling those compiled for its children.

    The encoder skips a key its source lacks, so a canonical object cut down by a
    visibility mask yields the document without those fields. The decoder reads a whole
    document: a missing required key raises.
    """
    hints = _hints(cls)
    enc: list[str] = []
    dec: list[tuple[str, str] | str] = []
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {},
        "required": [],
    }
    covered: set[str] = set()
    for spec in children:
        if isinstance(spec, Joint):
            for name, where, transform in spec.fields:
                covered.add(name)
                rules.append(FieldRule(path + name, f"{loc}/{where}", transform))
            enc.append(f"{ns.ref(spec.encode)}(src, out)")
            dec.append(f"{ns.ref(spec.decode)}(src, out)")
            _merge(schema, spec.schema)
            continue
        if spec.canon not in hints:
            raise TypeError(f"{cls.__name__} has no field {spec.canon!r}")
        covered.add(spec.canon)
        hint = hints[spec.canon]
        if isinstance(spec, Leaf):
            if hint.many:
                raise TypeError(f"lists of plain values are not supported: {spec.canon!r}")
            rules.append(FieldRule(path + spec.canon, f"{loc}/{spec.native}", spec.transform))
            t = spec.transform
            same = t.encode is SAME.encode
            enc += _present(
                spec.canon, f"out[{spec.native!r}]", "v" if same else _call(ns, t.encode, "v")
            )
            dec.append((spec.canon, _read(ns, spec.native, hint, None if same else t.decode)))
            node = {**spec.schema}
            if hint.doc:
                node.setdefault("description", hint.doc)
            _add_property(schema, spec.native, node, hint)
            continue
        sub_loc = loc if spec.native is None else f"{loc}/{spec.native}"
        sub_loc += "/*" if hint.many else ""
        sub = _compile(hint.inner, spec.children, f"{path}{spec.canon}.", sub_loc, rules, ns)
        if spec.native is None:
            if hint.many or hint.optional:
                raise TypeError(f"only a required single object can merge: {spec.canon!r}")
            enc += _present(spec.canon, None, f"{ns.ref(sub.encode_into)}(v, out)")
            dec.append((spec.canon, f"{ns.ref(sub.decode)}(src)"))
            _merge(schema, sub.schema)
            continue
        encode = ns.ref(sub.encode)
        value = f"[{encode}(x) for x in v]" if hint.many else f"{encode}(v)"
        enc += _present(spec.canon, f"out[{spec.native!r}]", value)
        dec.append((spec.canon, _read(ns, spec.native, hint, sub.decode)))
        node = {"type": "array", "items": sub.schema} if hint.many else sub.schema
        if hint.doc:
            node = {"description": hint.doc, **node}
        _add_property(schema, spec.native, node, hint)
    missing = set(hints) - covered
    if missing:
        raise TypeError(f"{cls.__name__} fields without a spec: {sorted(missing)}")
    if not schema["required"]:
        del schema["required"]
    return _Compiled(
        ns.function("encode", "src", ["out = {}", *enc, "return out"]),
        ns.function("encode_into", "src, out", enc or ["pass"]),
        ns.function("decode", "src", _building(dec)),
        schema,
    )


def _call(ns: Namespace, fn: Callable[[Any], Any], arg: str) -> str:
    return f"{ns.ref(fn)}({arg})"


def _present(canon: str, target: str | None, value: str) -> list[str]:
    """Statements running `value` (of `v`) when the source holds `canon`, storing it."""
    action = value if target is None else f"{target} = {value}"
    return [f"v = src.get({canon!r})", "if v is not None:", f"    {action}"]


def _read(ns: Namespace, key: str, hint: _Hint, fn: Callable[[Any], Any] | None) -> str:
    """The expression reading native `key`: None where an optional one is absent."""
    if hint.many:
        return f"[{_call(ns, fn, 'x')} for x in src[{key!r}]]" if fn else f"src[{key!r}]"
    if not hint.optional:
        return _call(ns, fn, f"src[{key!r}]") if fn else f"src[{key!r}]"
    if fn is None:
        return f"src.get({key!r})"
    return f"(None if (v := src.get({key!r})) is None else {_call(ns, fn, 'v')})"


def _building(items: list[tuple[str, str] | str]) -> list[str]:
    """Build `out` from (key, expression) pairs in order, in one dict display while it can."""
    lead: list[str] = []
    for item in items:
        if not isinstance(item, tuple):
            break
        lead.append(f"{item[0]!r}: {item[1]}")
    rest = items[len(lead) :]
    if not rest:
        return [f"return {{{', '.join(lead)}}}"]
    body = [f"out = {{{', '.join(lead)}}}"]
    body += [f"out[{item[0]!r}] = {item[1]}" if isinstance(item, tuple) else item for item in rest]
    return [*body, "return out"]


def _add_property(schema: dict[str, Any], name: str, node: dict[str, Any], hint: _Hint) -> None:
    schema["properties"][name] = node
    if not hint.optional:
        schema["required"].append(name)


def _merge(schema: dict[str, Any], extra: Mapping[str, Any]) -> None:
    schema["properties"].update(extra.get("properties", {}))
    schema["required"].extend(extra.get("required", []))
    for key, value in extra.items():
        if key not in ("properties", "required", "type", "additionalProperties"):
            schema.setdefault(key, []).extend(value)


def complete(cls: type, plain: Plain) -> Plain:
    """Fill what a partial canonical object lacks: None for optionals, [] for lists.

    Required values are left missing, for the codec to report.
    """
    for name, hint in _hints(cls).items():
        value = plain.get(name)
        if value is None:
            if hint.many:
                plain[name] = []
            elif hint.optional:
                plain[name] = None
            continue
        if isinstance(hint.inner, type) and dataclasses.is_dataclass(hint.inner):
            for item in value if hint.many else [value]:
                if isinstance(item, dict):
                    complete(hint.inner, item)
    return plain
