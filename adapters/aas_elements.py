"""Compile specs of AAS submodel elements into encoders, decoders and field rules.

A submodel is described as a tree: `Prop` binds one canonical leaf to a Property, `Lang`
binds canonical leaves to the languages of a MultiLanguageProperty, `Group` is a
SubmodelElementCollection (switching to a canonical object, a list or neither),
`Derived` writes a value the standard template expects but that is computed from others
and never read back, and `Fixed` writes an element the template requires that holds no
passport data (the Time Series `Metadata`). A Group holding only Derived and Fixed
elements is never read either, so documents without it still decode. The valueType comes
from the canonical type hint, so the spec cannot contradict the model. Encoders write AAS
V3.0 JSON (empty arrays omitted, values as strings); decoders read it back into canonical
plain data and collect every problem with its JSON pointer.

A little over 500 lines: the element kinds and their compilers belong together.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import orjson

from schema.codec import format_datetime, parse_datetime

from .errors import Violation
from .generated import Namespace
from .mapping import FieldRule, Transform

__all__ = [
    "Derived",
    "Fixed",
    "Group",
    "Lang",
    "Prop",
    "Submodel",
    "compile_submodel",
    "describe",
    "reference",
]

Plain = dict[str, Any]
_ITEM = re.compile(r"\[\]|\.[A-Za-z]+<n>")


@dataclass(frozen=True, slots=True)
class Prop:
    canon: str
    id_short: str
    semantic_id: str | None = None


@dataclass(frozen=True, slots=True)
class Lang:
    """A MultiLanguageProperty; `langs` maps a language tag to a canonical path."""

    langs: Sequence[tuple[str, str]]
    id_short: str
    semantic_id: str | None = None


@dataclass(frozen=True, slots=True)
class Derived:
    """A value computed from the canonical object for the template's sake; never read."""

    id_short: str
    value_type: str
    compute: Callable[[Plain], str | None]
    semantic_id: str | None = None
    reads: tuple[str, ...] = ()
    """The canonical paths `compute` reads, so a caller can tell what the value discloses."""
    language: str | None = None
    """Set, the value is written as a MultiLanguageProperty in this language."""


@dataclass(frozen=True, slots=True)
class Fixed:
    """A constant element; written first among its siblings when any of them is written.

    Tied to its siblings so a redacted passport whose data there is all withheld still
    leaves the collection or submodel out. Never read.
    """

    element: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Group:
    """A SubmodelElementCollection, or for a canonical list a SubmodelElementList.

    `canon` None keeps the canonical object of the parent. For a list, `style` "list" makes
    a SubmodelElementList of anonymous collections and "numbered" a collection of
    collections named `<item>0`, `<item>1`, ... (the Time Series template's Records).
    """

    canon: str | None
    id_short: str
    children: Sequence[Any]
    semantic_id: str | None = None
    style: Literal["list", "numbered"] = "list"
    item: str = "Item"
    item_semantic_id: str | None = None
    """The semantic id of each numbered item (the Time Series template's Record)."""


@dataclass(frozen=True, slots=True)
class Submodel:
    id_short: str
    semantic_id: str
    children: Sequence[Any]
    own: bool = False
    """True for robopass's own submodels: elements without an id get one under this one."""


def reference(value: str, kind: str = "GlobalReference") -> dict[str, Any]:
    ref = "ModelReference" if kind == "Submodel" else "ExternalReference"
    return {"type": ref, "keys": [{"type": kind, "value": value}]}


# ---- value types ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Type:
    xs: str
    encode: Callable[[Any], str]
    decode: Callable[[str], Any]


def _as_float(text: str) -> float:
    return float(text)


def _as_datetime(text: str) -> str:
    return format_datetime(parse_datetime(text))


def _as_date(text: str) -> str:
    return date.fromisoformat(text).isoformat()


def _enum_type(kind: type[enum.Enum]) -> _Type:
    members = kind.__members__

    def decode(text: str) -> str:
        if text not in members:
            raise ValueError(f"{text!r} is not one of {', '.join(members)}")
        return text

    return _Type("xs:string", str, decode)


def _value_type(hint: Any) -> _Type:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_type(hint)
    if hint is datetime:
        return _Type("xs:dateTime", str, _as_datetime)
    if hint is date:
        return _Type("xs:date", str, _as_date)
    if hint is float:
        return _Type("xs:double", repr, _as_float)
    if hint is int:
        return _Type("xs:long", str, int)
    if hint is str:
        return _Type("xs:string", str, str)
    raise TypeError(f"no AAS value type for {hint!r}")


# ---- canonical type hints -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hint:
    optional: bool
    many: bool
    inner: Any


def _hint(cls: type, path: str) -> tuple[_Hint, type]:
    """The hint of a dot path under `cls` and the class that holds its last field."""
    hint = _Hint(False, False, cls)
    holder = cls
    for part in path.split("."):
        holder = hint.inner
        if not dataclasses.is_dataclass(holder) or part not in _names(holder):
            raise TypeError(f"{getattr(holder, '__name__', holder)} has no field {part!r}")
        raw = typing.get_type_hints(holder)[part]
        optional = many = False
        if typing.get_origin(raw) in (typing.Union, types.UnionType):
            optional = True
            raw = next(a for a in typing.get_args(raw) if a is not type(None))
        if typing.get_origin(raw) is list:
            many, raw = True, typing.get_args(raw)[0]
        hint = _Hint(optional, many, raw)
    return hint, holder


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _put(obj: Plain, parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


# ---- compilation --------------------------------------------------------------------

Decoder = Callable[[dict[str, Any] | None, Plain, str, list[Violation]], None]


@dataclass(frozen=True, slots=True)
class CompiledSubmodel:
    spec: Submodel
    encode: Callable[[Plain], list[dict[str, Any]]]
    decode: Callable[[list[dict[str, Any]], Plain, str, list[Violation]], None]
    rules: list[FieldRule]


_NS = Namespace()
_EMPTY = _NS.ref({})
_START = ["out = []", "add = out.append"]
"""Generated encoders collect elements in `out` through `add`."""


def compile_submodel(root: type, spec: Submodel) -> CompiledSubmodel:
    rules: list[FieldRule] = []
    base = spec.semantic_id if spec.own else None
    enc, dec = _compile_children(root, spec.children, "", spec.id_short, base, rules)
    encode = _NS.function("encode", "obj", [*_START, *enc, "return out"])
    return CompiledSubmodel(spec, encode, dec, rules)


def _semantic(spec: Any, base: str | None, id_path: str) -> dict[str, Any] | None:
    if spec.semantic_id:
        return reference(spec.semantic_id)
    return reference(f"{base}/{id_path}") if base else None


def _compile_children(
    cls: type, children: Sequence[Any], path: str, loc: str, base: str | None, rules: list
) -> tuple[list[str], Callable[..., None]]:
    """Encoder statements appending the children's elements to `out`, read from `obj`.

    An element is left out when its canonical value is None or absent: absent when a
    visibility mask withheld it, so a redacted passport encodes without raising.
    """
    encoders: list[str] = []
    decoders: list[tuple[str, Decoder]] = []
    fixed = [spec.element for spec in children if isinstance(spec, Fixed)]
    for spec in children:
        if isinstance(spec, Fixed):
            continue
        id_path = f"{loc.split('.', 1)[1]}.{spec.id_short}" if "." in loc else spec.id_short
        semantic = _semantic(spec, base, _ITEM.sub("", id_path).replace(".", "/"))
        where = f"{loc}.{spec.id_short}"
        if isinstance(spec, Derived):
            encoders += _derived(spec, semantic)
        elif isinstance(spec, Prop):
            enc, dec = _prop(cls, spec, semantic, path, where, rules)
            encoders += enc
            decoders.append((spec.id_short, dec))
        elif isinstance(spec, Lang):
            enc, dec = _lang(cls, spec, semantic, path, where, rules)
            encoders += enc
            decoders.append((spec.id_short, dec))
        else:
            enc, dec = _group(cls, spec, semantic, path, where, base, rules)
            encoders += enc
            if _reads(spec):
                decoders.append((spec.id_short, dec))
    if fixed:
        # A fresh copy per document (callers may change what they get), parsed from
        # bytes: ten times quicker than copy.deepcopy.
        copies = ", ".join(f"{_NS.ref(orjson.loads)}({_NS.ref(orjson.dumps(e))})" for e in fixed)
        encoders += ["if out:", f"    out[0:0] = [{copies}]"]
    return encoders, _run_decoders(decoders)


def _reads(spec: Any) -> bool:
    """Whether an element binds any canonical value, so a decoder has something to read."""
    if isinstance(spec, (Prop, Lang)):
        return True
    return isinstance(spec, Group) and any(_reads(child) for child in spec.children)


def describe(root: type, group: Group) -> list[dict[str, Any]]:
    """The elements of a Group's item as a template: Properties without value.

    For the Time Series `Metadata` Record, which names the variables every Record holds.
    Each described element must carry its own semantic id.
    """
    out: list[dict[str, Any]] = []
    inner = _hint(root, group.canon)[0].inner if group.canon else root
    for spec in group.children:
        head: dict[str, Any] = {"idShort": spec.id_short}
        if spec.semantic_id is None:
            raise TypeError(f"{spec.id_short} has no semantic id to describe")
        head["semanticId"] = reference(spec.semantic_id)
        if isinstance(spec, Prop):
            hint = _hint(inner, spec.canon)[0]
            out.append({"modelType": "Property", **head, "valueType": _value_type(hint.inner).xs})
        elif isinstance(spec, Group):
            kind = "SubmodelElementCollection"
            out.append({"modelType": "SubmodelElementList", **head, "typeValueListElement": kind})
        else:
            raise TypeError(f"cannot describe {spec.id_short}")
    return out


def _display(head: dict[str, Any], **values: str) -> str:
    """Source of a dict display: `head`'s constant items, then `values` as expressions."""
    items = [
        f"{k!r}: {v!r}" if isinstance(v, str) else f"{k!r}: {_NS.ref(v)}" for k, v in head.items()
    ]
    items += [f"{k!r}: {v}" for k, v in values.items()]
    return "{" + ", ".join(items) + "}"


def _read(parts: list[str]) -> str:
    """The expression for the value at `parts` under `obj`: None where absent."""
    expr = "obj"
    for part in parts[:-1]:
        expr = f"({expr}.get({part!r}) or {_EMPTY})"
    return f"{expr}.get({parts[-1]!r})"


def _when_present(value: str, then: list[str]) -> list[str]:
    return [f"v = {value}", "if v is not None:", *(f"    {line}" for line in then)]


def _run_decoders(decoders: list[tuple[str, Decoder]]) -> Callable[..., None]:
    def decode(elements: list[dict[str, Any]], obj: Plain, at: str, errors: list) -> None:
        index: dict[str, tuple[int, dict[str, Any]]] = {}
        for i, element in enumerate(elements):
            id_short = element.get("idShort")
            if isinstance(id_short, str):
                index[id_short] = (i, element)
        for id_short, dec in decoders:
            at_index, found = index.get(id_short, (-1, None))
            dec(found, obj, f"{at}/{at_index}" if found is not None else at, errors)

    return decode


def _missing(at: str, id_short: str) -> Violation:
    return Violation(at, f"missing required element {id_short!r}")


def _derived(spec: Derived, semantic: dict[str, Any] | None) -> list[str]:
    kind = "MultiLanguageProperty" if spec.language else "Property"
    head: dict[str, Any] = {"modelType": kind, "idShort": spec.id_short}
    if semantic:
        head["semanticId"] = semantic
    if spec.language:
        text = f"[{{'language': {spec.language!r}, 'text': v}}]"
        return _when_present(
            f"{_NS.ref(spec.compute)}(obj)", [f"add({_display(head, value=text)})"]
        )
    head["valueType"] = spec.value_type
    return _when_present(f"{_NS.ref(spec.compute)}(obj)", _property(head, "v"))


def _property(head: dict[str, Any], text: str) -> list[str]:
    """Add a Property: a copy of its constant `head` (quicker than a display) and a value."""
    return [f"e = {_NS.ref(head)}.copy()", f"e['value'] = {text}", "add(e)"]


def _prop(cls: type, spec: Prop, semantic: Any, path: str, where: str, rules: list):
    hint, _ = _hint(cls, spec.canon)
    vt = _value_type(hint.inner)
    parts = spec.canon.split(".")
    rules.append(FieldRule(path + spec.canon, where, Transform(f"Property {vt.xs}")))
    head: dict[str, Any] = {"modelType": "Property", "idShort": spec.id_short}
    if semantic:
        head["semanticId"] = semantic
    head["valueType"] = vt.xs
    from_text = vt.decode
    # Canonical plain strings, times, dates and enum names are already the text.
    text = "v" if vt.encode is str and hint.inner is not int else f"{_NS.ref(vt.encode)}(v)"
    encode = _when_present(_read(parts), _property(head, text))

    def decode(element: Any, obj: Plain, at: str, errors: list[Violation]) -> None:
        if element is None:
            if not hint.optional:
                errors.append(_missing(at, spec.id_short))
            _put(obj, parts, None)
            return
        text = element.get("value")
        if text is None:
            if not hint.optional:
                errors.append(Violation(at, f"{spec.id_short!r} has no value"))
            _put(obj, parts, None)
            return
        try:
            _put(obj, parts, from_text(text))
        except (TypeError, ValueError) as exc:
            errors.append(Violation(f"{at}/value", f"not a {vt.xs}: {exc}"))

    return encode, decode


def _lang(cls: type, spec: Lang, semantic: Any, path: str, where: str, rules: list):
    bound = []
    for tag, canon in spec.langs:
        hint, _ = _hint(cls, canon)
        bound.append((tag, canon.split("."), hint.optional))
        rules.append(
            FieldRule(path + canon, f"{where}@{tag}", Transform(f"MultiLanguageProperty [{tag}]"))
        )
    head: dict[str, Any] = {"modelType": "MultiLanguageProperty", "idShort": spec.id_short}
    if semantic:
        head["semanticId"] = semantic

    encode = ["texts = []"]
    for tag, parts, _ in bound:
        encode += _when_present(_read(parts), [f"texts.append({{'language': {tag!r}, 'text': v}})"])
    encode += ["if texts:", f"    add({_display(head, value='texts')})"]

    def decode(element: Any, obj: Plain, at: str, errors: list[Violation]) -> None:
        texts: dict[str, Any] = {}
        for item in (element or {}).get("value") or ():
            texts.setdefault(item.get("language"), item.get("text"))
        for tag, parts, optional in bound:
            text = texts.get(tag)
            if text is None and not optional:
                errors.append(Violation(at, f"{spec.id_short!r} has no text in {tag!r}"))
            _put(obj, parts, text)

    return encode, decode


def _group(cls: type, spec: Group, semantic: Any, path: str, where: str, base, rules: list):
    if spec.canon is None:
        hint, inner, sub_path = _Hint(False, False, cls), cls, path
        parts: list[str] = []
    else:
        hint, _ = _hint(cls, spec.canon)
        inner, sub_path, parts = hint.inner, f"{path}{spec.canon}.", spec.canon.split(".")
    item_loc = where + ("[]" if spec.style == "list" else f".{spec.item}<n>")
    enc_children, dec_children = _compile_children(
        inner, spec.children, sub_path, item_loc if hint.many else where, base, rules
    )
    head: dict[str, Any] = {"idShort": spec.id_short}
    if semantic:
        head["semanticId"] = semantic

    kind = "SubmodelElementCollection"
    if not hint.many:
        single = {"modelType": kind, **head}
        children = _NS.ref(_NS.function("children", "obj", [*_START, *enc_children, "return out"]))
        then = [
            f"value = {children}(v)",
            "if value:",
            f"    add({_display(single, value='value')})",
        ]
        if parts:
            then += ["else:", f"    add({_display(single)})"]
        encode = _when_present(_read(parts) if parts else "obj", then)

        def decode(element: Any, obj: Plain, at: str, errors: list[Violation]) -> None:
            if element is None:
                if hint.optional:
                    _put(obj, parts, None)
                    return
                errors.append(_missing(at, spec.id_short))
                element = {}
            target = obj
            if parts:
                existing = _get_or_none(obj, parts)
                target = existing if isinstance(existing, dict) else {}
                _put(obj, parts, target)
            dec_children(element.get("value") or [], target, f"{at}/value", errors)

        return encode, decode

    numbered = spec.style == "numbered"
    item: dict[str, Any] = {"modelType": kind}
    if numbered and spec.item_semantic_id:
        item["semanticId"] = reference(spec.item_semantic_id)
    named = {"idShort": "name"} if numbered else {}
    filled = _display(item, **named, value="out")
    collection = _NS.function(
        "collection",
        "obj, name" if numbered else "obj",
        [
            *_START,
            *enc_children,
            "if out:",
            f"    return {filled}",
            f"return {_display(item, **named)}",
        ],
    )
    if numbered:
        whole = {"modelType": kind, **head}
        items = f"[{_NS.ref(collection)}(x, f'{spec.item}{{i}}') for i, x in enumerate(v)]"
    else:
        whole = {"modelType": "SubmodelElementList", **head, "typeValueListElement": kind}
        items = f"[{_NS.ref(collection)}(x) for x in v]"
    then = [
        f"items = {items}",
        "if items:",
        f"    add({_display(whole, value='items')})",
        "else:",
        f"    add({_display(whole)})",
    ]
    encode = _when_present(_read(parts), then)

    def decode_many(element: Any, obj: Plain, at: str, errors: list[Violation]) -> None:
        if element is None:
            errors.append(_missing(at, spec.id_short))
            _put(obj, parts, [])
            return
        items = []
        for i, item in enumerate(element.get("value") or ()):
            out: Plain = {}
            dec_children(item.get("value") or [], out, f"{at}/value/{i}/value", errors)
            items.append(out)
        _put(obj, parts, items)

    return encode, decode_many


def _get_or_none(obj: Plain, parts: list[str]) -> Any:
    value: Any = obj
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
