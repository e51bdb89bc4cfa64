"""Loading and validating JSON policy documents against their published schemas.

Errors name the offending key as a dotted path (`registries.CN[2].roles[0]`),
including the key that is unexpected or missing, so an author can fix a
document without reading the schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from .errors import RulesError

HERE = Path(__file__).parent
SCHEMAS = ("rules.schema.json", "agreements.schema.json")


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {name: json.loads((HERE / name).read_text(encoding="utf-8")) for name in SCHEMAS}


@cache
def validator(name: str) -> Draft202012Validator:
    """The validator for a schema shipped next to this module; they may refer to each other."""
    schemas = _schemas()
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values()
    )
    return Draft202012Validator(
        schemas[name], registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def read_json(source: str | Path | dict[str, Any], error: type[RulesError]) -> dict[str, Any]:
    """A document given as a mapping or a file path."""
    if isinstance(source, dict):
        return source
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise error("", f"cannot read {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise error("", "document must be a JSON object")
    return data


def validate(document: Any, schema: str, error: type[RulesError] = RulesError) -> None:
    """Raise `error` for the most relevant schema violation of `document`."""
    found = best_match(validator(schema).iter_errors(document))
    if found is not None:
        raise error(_path(found), found.message)


def _path(error: ValidationError) -> str:
    parts = list(error.absolute_path)
    schema, instance = error.schema, error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
        extra = sorted(k for k in instance if k not in allowed)
        parts += extra[:1]
    elif (
        error.validator == "required"
        and isinstance(instance, dict)
        and isinstance(error.validator_value, list)
    ):
        missing = [k for k in error.validator_value if k not in instance]
        parts += missing[:1]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
