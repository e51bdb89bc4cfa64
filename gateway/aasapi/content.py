"""Views of AAS V3.0 JSON the HTTP API serves: by idShortPath, level, metadata, value-only,
reference and path (IDTA-01002 Part 2, the `content` and `level` modifiers).

Pure functions over the JSON an adapter wrote; they never add a value, they only select
and reshape, so whatever a mask left out of the environment stays out of every view.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "BadPath",
    "at_level",
    "content_of",
    "element_at",
    "element_key",
    "element_paths",
    "metadata",
    "paths_under",
    "reference",
    "shell_reference",
    "submodel_view",
    "value_only",
]

JSON = dict[str, Any]
CONTAINERS = frozenset({"SubmodelElementCollection", "SubmodelElementList", "Entity"})
"""Element types with children, the only ones `level=core` cuts and `$path` walks."""

_STEP = re.compile(r"([A-Za-z][A-Za-z0-9_]*)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
_INTEGERS = frozenset(
    {
        "xs:integer",
        "xs:long",
        "xs:int",
        "xs:short",
        "xs:byte",
        "xs:nonNegativeInteger",
        "xs:positiveInteger",
        "xs:unsignedLong",
        "xs:unsignedInt",
        "xs:unsignedShort",
        "xs:unsignedByte",
        "xs:nonPositiveInteger",
        "xs:negativeInteger",
    }
)
_NUMBERS = frozenset({"xs:double", "xs:float", "xs:decimal"})


class BadPath(ValueError):
    """An idShortPath that is not of the form `A.B[2].C`."""


def _children(element: JSON) -> list[JSON]:
    key = "statements" if element.get("modelType") == "Entity" else "value"
    value = element.get(key)
    return value if isinstance(value, list) and element.get("modelType") in CONTAINERS else []


def _parse(path: str) -> list[str | int]:
    """`A.B[2].C` -> ["A", "B", 2, "C"]; `BadPath` naming the rule otherwise."""
    steps: list[str | int] = []
    for part in path.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            raise BadPath(
                f"idShortPath {path!r}: each step is an idShort ([A-Za-z][A-Za-z0-9_]*) "
                "optionally followed by list indices like [0], separated by dots"
            )
        steps.append(match.group(1))
        steps += [int(i) for i in _INDEX.findall(match.group(2))]
    return steps


def element_at(elements: list[JSON], path: str) -> tuple[JSON, list[JSON]] | None:
    """The element at an idShortPath and the reference keys leading to it; None if absent."""
    steps = _parse(path)
    current: JSON | None = None
    keys: list[JSON] = []
    children = elements
    for step in steps:
        if isinstance(step, int):
            if current is None or current.get("modelType") != "SubmodelElementList":
                return None
            if step >= len(children):
                return None
            current = children[step]
            keys.append({"type": current.get("modelType"), "value": str(step)})
        else:
            if current is not None and current.get("modelType") == "SubmodelElementList":
                return None  # list items are addressed by index, not idShort
            current = next((e for e in children if e.get("idShort") == step), None)
            if current is None:
                return None
            keys.append({"type": current.get("modelType"), "value": step})
        children = _children(current)
    return (current, keys) if current is not None else None


def at_level(obj: JSON, core: bool) -> JSON:
    """`level=core`: the object with its direct children only (theirs are cut); deep: as is."""
    if not core:
        return obj
    if obj.get("modelType") == "Submodel":
        elements = obj.get("submodelElements")
        if not elements:
            return obj
        return {**obj, "submodelElements": [_without_children(e) for e in elements]}
    children = _children(obj)
    if not children:
        return obj
    key = "statements" if obj.get("modelType") == "Entity" else "value"
    return {**obj, key: [_without_children(e) for e in children]}


def _without_children(element: JSON) -> JSON:
    if element.get("modelType") not in CONTAINERS:
        return element
    key = "statements" if element.get("modelType") == "Entity" else "value"
    return {k: v for k, v in element.items() if k != key}


def metadata(obj: JSON) -> JSON:
    """The object without its value: a submodel without elements, an element without value."""
    drop = {"submodelElements"} if obj.get("modelType") == "Submodel" else {"value", "valueId"}
    if obj.get("modelType") == "Entity":
        drop = {"statements", "globalAssetId", "specificAssetIds"}
    return {k: v for k, v in obj.items() if k not in drop}


def value_only(obj: JSON) -> Any:
    """The Value-Only serialization: values keyed by idShort, typed by valueType."""
    kind = obj.get("modelType")
    if kind == "Submodel":
        return {e["idShort"]: value_only(e) for e in obj.get("submodelElements") or ()}
    if kind == "SubmodelElementCollection":
        return {e["idShort"]: value_only(e) for e in obj.get("value") or ()}
    if kind == "SubmodelElementList":
        return [value_only(e) for e in obj.get("value") or ()]
    if kind == "Property":
        return _typed(obj.get("value"), obj.get("valueType", "xs:string"))
    if kind == "MultiLanguageProperty":
        return [{t["language"]: t["text"]} for t in obj.get("value") or ()]
    if kind == "Range":
        value_type = obj.get("valueType", "xs:string")
        return {k: _typed(obj.get(k), value_type) for k in ("min", "max") if k in obj}
    if kind in ("File", "Blob"):
        return {k: obj[k] for k in ("contentType", "value") if k in obj}
    if kind == "ReferenceElement":
        return obj.get("value")
    if kind == "Entity":
        out: JSON = {"statements": {e["idShort"]: value_only(e) for e in _children(obj)}}
        out["entityType"] = obj.get("entityType")
        return out
    return obj.get("value")


def _typed(text: str | None, value_type: str) -> Any:
    if text is None:
        return None
    try:
        if value_type == "xs:boolean":
            return text in ("true", "1")
        if value_type in _INTEGERS:
            return int(text)
        if value_type in _NUMBERS:
            number = float(text)
            return number if number == number and abs(number) != float("inf") else text
    except ValueError:
        return text
    return text


def element_paths(element: JSON, path: str, core: bool) -> list[str]:
    """The idShortPaths of an element and, deep, of everything under it (core: one level)."""
    out = [path]
    for i, child in enumerate(_children(element)):
        if element.get("modelType") == "SubmodelElementList":
            child_path = f"{path}[{i}]"
        elif "idShort" in child:
            child_path = f"{path}.{child['idShort']}"
        else:
            continue
        out += [child_path] if core else element_paths(child, child_path, core)
    return out


def reference(submodel_id: str, keys: list[JSON] | None = None) -> JSON:
    """A ModelReference to a submodel, or to an element in it by the keys leading there."""
    return {
        "type": "ModelReference",
        "keys": [{"type": "Submodel", "value": submodel_id}, *(keys or ())],
    }


def shell_reference(shell: JSON) -> JSON:
    return {
        "type": "ModelReference",
        "keys": [{"type": "AssetAdministrationShell", "value": shell["id"]}],
    }


def element_key(element: JSON) -> JSON:
    return {"type": element["modelType"], "value": element["idShort"]}


def content_of(path: str) -> str:
    """The content modifier a path ends with ('' for the normal one)."""
    tail = path.rsplit("/", 1)[-1]
    return f"/{tail}" if tail in ("$metadata", "$value", "$reference", "$path") else ""


def submodel_view(submodel: JSON, content: str, core: bool) -> Any:
    if content == "/$metadata":
        return metadata(submodel)
    if content == "/$value":
        return value_only(at_level(submodel, core))
    if content == "/$reference":
        return reference(submodel["id"])
    if content == "/$path":
        return paths_under(submodel.get("submodelElements") or [], core)
    return at_level(submodel, core)


def paths_under(elements: list[JSON], core: bool) -> list[str]:
    """The idShortPaths under a submodel: core, its own elements only; deep, all of them."""
    if core:
        return [e["idShort"] for e in elements]
    return [p for e in elements for p in element_paths(e, e["idShort"], False)]
