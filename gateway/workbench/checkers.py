"""Checkers that judge a document independently of the adapter that wrote it.

An adapter validating its own output proves little, so the workbench asks other tools:
aas-core3.0 and BaSyx for AAS, the official UNTP schema for UNTP (when the reference
folder is present), next to the project's own schemas. A checker that cannot run says
NOT_CHECKED and why, rather than passing or failing.
"""

from __future__ import annotations

import enum
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from aas_core3 import jsonization, verification
from jsonschema import Draft202012Validator

from adapters.errors import InvalidDocument, Violation, pointer
from adapters.translate import FORMATS

__all__ = [
    "UNTP_SCHEMA",
    "Check",
    "CheckStatus",
    "Checker",
    "checkers_for",
    "reference_dir",
]

UNTP_SCHEMA = "untp/untp-dpp-0.6.1.schema.json"
"""The official UNTP DPP 0.6.1 schema, relative to the reference folder."""
UNTP_SCHEMA_SOURCE = (
    "published by UN/CEFACT in github.com/uncefact/spec-untp, tag v0.6.1,"
    " data-models/untp-dpp/artefacts/untp-dpp-schema.json"
)
REFERENCE_HOW = (
    f"save it as DIR/{UNTP_SCHEMA} and pass --reference DIR or set ROBOPASS_REFERENCE=DIR"
)


class CheckStatus(enum.Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    NOT_CHECKED = "NOT_CHECKED"


@dataclass(frozen=True, slots=True)
class Check:
    """One checker's verdict on one document."""

    checker: str
    status: CheckStatus
    violations: tuple[Violation, ...] = ()
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "checker": self.checker,
            "status": self.status.value,
            "violations": [{"pointer": v.pointer, "message": v.message} for v in self.violations],
            "note": self.note,
        }


def _verdict(name: str, violations: list[Violation]) -> Check:
    if violations:
        return Check(name, CheckStatus.FAILED, tuple(violations))
    return Check(name, CheckStatus.PASSED)


Checker = Callable[[Any], Check]


def reference_candidates(explicit: str | None = None) -> list[Path]:
    """Where the official schemas are looked for, in order: `explicit` (the command line
    passes `--reference`, else `workbench.reference`, i.e. $ROBOPASS_REFERENCE), then
    ../shared/reference beside the current folder and beside the checkout.

    The one list both `robopass mapping check` and the tests read, so a test never
    expects a check the command cannot run.
    """
    root = Path(__file__).resolve().parents[2]
    found = [Path(explicit)] if explicit else []
    return [*found, Path.cwd() / "../shared/reference", root / "../shared/reference"]


def reference_dir(explicit: str | None = None) -> Path | None:
    """The first of `reference_candidates` that is a folder; None when none is."""
    for candidate in reference_candidates(explicit):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def own(format_name: str) -> Checker:
    """The project's own validator of a format (its JSON Schema, or aas-core3.0 for AAS)."""
    name = f"robopass {format_name} schema"

    def check(doc: Any) -> Check:
        try:
            FORMATS[format_name].validate(doc)
        except InvalidDocument as exc:
            return _verdict(name, exc.violations)
        return _verdict(name, [])

    return check


def _segment(segment: Any) -> str | int:
    if hasattr(segment, "index"):
        return segment.index
    head, *rest = segment.name.split("_")
    return head + "".join(part.title() for part in rest)


def aas_core(doc: Any) -> Check:
    """aas-core3.0: de-serialize the environment, then verify every meta-model constraint."""
    name = "aas-core3.0"
    try:
        environment = jsonization.environment_from_jsonable(doc)
    except jsonization.DeserializationException as exc:
        where = pointer(_segment(s) for s in exc.path.segments)
        return _verdict(name, [Violation(where, exc.cause)])
    return _verdict(
        name,
        [
            Violation(pointer(_segment(s) for s in e.path.segments), e.cause)
            for e in verification.verify(environment)
        ],
    )


def basyx_strict(doc: Any) -> Check:
    """A strict basyx-python-sdk load (failsafe=False): any element it cannot read fails."""
    name = "basyx strict load"
    try:
        from basyx.aas.adapter.json import read_aas_json_file
    except ImportError:
        note = "basyx-python-sdk is not installed (a dev dependency: pip install -e '.[dev]')"
        return Check(name, CheckStatus.NOT_CHECKED, note=note)
    try:
        read_aas_json_file(io.StringIO(orjson.dumps(doc).decode()), failsafe=False)
    except Exception as exc:  # BaSyx raises many types; each is a refusal of the document
        return _verdict(name, [Violation("", f"{type(exc).__name__}: {exc}")])
    return _verdict(name, [])


@cache
def _schema_validator(path: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def untp_official(reference: Path | None) -> Checker:
    """The official UNTP DPP 0.6.1 JSON Schema from the reference folder, when present."""
    name = "UNTP DPP 0.6.1 official schema"

    def check(doc: Any) -> Check:
        path = reference / UNTP_SCHEMA if reference else None
        if path is None or not path.is_file():
            where = f"in {reference}" if reference else "(no reference folder)"
            note = f"{UNTP_SCHEMA} not found {where}: it is {UNTP_SCHEMA_SOURCE}; {REFERENCE_HOW}"
            return Check(name, CheckStatus.NOT_CHECKED, note=note)
        errors = _schema_validator(path).iter_errors(doc)
        return _verdict(name, [Violation(pointer(e.absolute_path), e.message) for e in errors])

    return check


def checkers_for(format_name: str, reference: Path | None) -> list[Checker]:
    """Who judges a document of this format; formats without outside tools get their own."""
    if format_name == "aas":
        return [aas_core, basyx_strict]
    if format_name == "untp-dpp":
        return [untp_official(reference), own("untp-dpp")]
    return [own(format_name)]
