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
    enc, dec, schema = _compile(root, children, "", "", rules)

    def encode(plain: Plain) -> Plain:
        out: Plain = {}
        enc(plain, out)
        return out

    def decode(native: Plain) -> Plain:
        out: Plain = {}
        dec(native, out)
        return out

    return Shape(encode, decode, rules, schema)


def mirror(cls: type) -> list[Leaf | Obj | Joint]:
    """Specs that keep every field of `cls` under its own name: the canonical form itself."""
    specs: list[Leaf | Obj | Joint] = []
    for name, hint in _hints(cls).items():
        if dataclasses.is_dataclass(hint.inner):
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


def _compile(
    cls: type, children: Sequence[Leaf | Obj | Joint], path: str, loc: str, rules: list[FieldRule]
) -> tuple[Step, Step, dict[str, Any]]:
    hints = _hints(cls)
    enc_steps: list[Step] = []
    dec_steps: list[Step] = []
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
            enc_steps.append(spec.encode)
            dec_steps.append(spec.decode)
            _merge(schema, spec.schema)
            continue
        if spec.canon not in hints:
            raise TypeError(f"{cls.__name__} has no field {spec.canon!r}")
        covered.add(spec.canon)
        hint = hints[spec.canon]
        if isinstance(spec, Leaf):
            rules.append(FieldRule(path + spec.canon, f"{loc}/{spec.native}", spec.transform))
            t = spec.transform
            enc_steps.append(_leaf_step(spec.canon, spec.native, t.encode, hint, keep_none=False))
            dec_steps.append(_leaf_step(spec.native, spec.canon, t.decode, hint, keep_none=True))
            node = {**spec.schema}
            if hint.doc:
                node.setdefault("description", hint.doc)
            _add_property(schema, spec.native, node, hint)
            continue
        sub_loc = loc if spec.native is None else f"{loc}/{spec.native}"
        sub_loc += "/*" if hint.many else ""
        enc, dec, sub = _compile(hint.inner, spec.children, f"{path}{spec.canon}.", sub_loc, rules)
        if spec.native is None:
            if hint.many or hint.optional:
                raise TypeError(f"only a required single object can merge: {spec.canon!r}")
            enc_steps.append(_merged_step(spec.canon, enc, into_native=True))
            dec_steps.append(_merged_step(spec.canon, dec, into_native=False))
            _merge(schema, sub)
            continue
        enc_steps.append(_object_step(spec.canon, spec.native, enc, hint, keep_none=False))
        dec_steps.append(_object_step(spec.native, spec.canon, dec, hint, keep_none=True))
        if hint.many:
            sub = {"type": "array", "items": sub}
        if hint.doc:
            sub = {"description": hint.doc, **sub}
        _add_property(schema, spec.native, sub, hint)
    missing = set(hints) - covered
    if missing:
        raise TypeError(f"{cls.__name__} fields without a spec: {sorted(missing)}")
    if not schema["required"]:
        del schema["required"]

    def run_enc(src: Plain, out: Plain) -> None:
        for step in enc_steps:
            step(src, out)

    def run_dec(src: Plain, out: Plain) -> None:
        for step in dec_steps:
            step(src, out)

    return run_enc, run_dec, schema


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


def _leaf_step(
    src_key: str, out_key: str, fn: Callable[[Any], Any], hint: _Hint, keep_none: bool
) -> Step:
    """Native documents omit absent values; canonical plain data spells them out as None.

    An encoder (`keep_none` False) also skips a key its source lacks, so a canonical object
    cut down by a visibility mask yields the document without those fields.
    """
    same = fn is SAME.encode
    if hint.many:
        raise TypeError(f"lists of plain values are not supported: {src_key!r}")
    if not keep_none:

        def present(src: Plain, out: Plain) -> None:
            value = src.get(src_key)
            if value is not None:
                out[out_key] = value if same else fn(value)

        return present
    if hint.optional:

        def optional(src: Plain, out: Plain) -> None:
            value = src.get(src_key)
            out[out_key] = None if value is None else value if same else fn(value)

        return optional

    if same:

        def copy(src: Plain, out: Plain) -> None:
            out[out_key] = src[src_key]

        return copy

    def convert(src: Plain, out: Plain) -> None:
        out[out_key] = fn(src[src_key])

    return convert


def _object_step(src_key: str, out_key: str, run: Step, hint: _Hint, keep_none: bool) -> Step:
    def one(value: Plain) -> Plain:
        out: Plain = {}
        run(value, out)
        return out

    if not keep_none:

        def present(src: Plain, out: Plain) -> None:
            value = src.get(src_key)
            if value is not None:
                out[out_key] = [one(item) for item in value] if hint.many else one(value)

        return present
    if hint.many:

        def many(src: Plain, out: Plain) -> None:
            out[out_key] = [one(item) for item in src[src_key]]

        return many
    if hint.optional:

        def optional(src: Plain, out: Plain) -> None:
            value = src.get(src_key)
            out[out_key] = None if value is None else one(value)

        return optional

    def single(src: Plain, out: Plain) -> None:
        out[out_key] = one(src[src_key])

    return single


def _merged_step(canon: str, run: Step, into_native: bool) -> Step:
    if into_native:

        def merge(src: Plain, out: Plain) -> None:
            value = src.get(canon)
            if value is not None:
                run(value, out)

        return merge

    def split(src: Plain, out: Plain) -> None:
        sub: Plain = {}
        run(src, sub)
        out[canon] = sub

    return split


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
        if dataclasses.is_dataclass(hint.inner):
            for item in value if hint.many else [value]:
                if isinstance(item, dict):
                    complete(hint.inner, item)
    return plain
