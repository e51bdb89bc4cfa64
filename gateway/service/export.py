"""A stored passport in any format, cut to what one caller may see.

The mask applies to the canonical plain form before any adapter runs, so every
format is redacted by the same paths and no adapter needs to know about
policies. Mapping documents served as export formats (`[mappings] folder`) run
on the redacted form too: a mapping sees only what the caller may see, so no
rule, however written, can copy a hidden field into its output. A redacted
document is partial: it is not checked against its format's schema, which
describes whole passports.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from adapters.mapengine import RuleFailed, RunsMapping
from adapters.translate import FORMATS
from policies.mask import redact
from schema.codec import to_plain
from schema.passport import Passport

__all__ = [
    "EXPORT_FORMATS",
    "ExportFailed",
    "UnknownFormat",
    "export_document",
    "export_documents",
    "known_formats",
]

EXPORT_FORMATS = ("canonical", "cn-miit", "aas", "untp-dpp")


def known_formats(mappings: Mapping[str, RunsMapping] | None = None) -> list[str]:
    """The built-in export formats, then the served mapping documents' ids."""
    return [*EXPORT_FORMATS, *sorted(mappings or {})]


class UnknownFormat(LookupError):
    """A format name that is neither built in nor a served mapping document."""

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        known = known or list(EXPORT_FORMATS)
        super().__init__(f"unknown export format {name!r}; known: {', '.join(known)}")
        self.name = name
        self.known = known


class ExportFailed(ValueError):
    """A mapping document failed on this (redacted) passport; the message names the rule."""


def export_document(
    passport: Passport,
    fmt: str,
    mask: Container[str] | None = None,
    mappings: Mapping[str, RunsMapping] | None = None,
) -> Any:
    """`passport` in format `fmt` without any canonical path outside `mask` (None: whole).

    `fmt` is a built-in format or the id of one of `mappings`, which runs on the
    redacted canonical form.
    """
    program = mappings.get(fmt) if mappings and fmt not in EXPORT_FORMATS else None
    if fmt not in EXPORT_FORMATS and program is None:
        raise UnknownFormat(fmt, known_formats(mappings))
    plain = to_plain(passport)
    if mask is not None:
        plain = redact(plain, mask)
    if program is None:
        return FORMATS[fmt].encode(plain)
    try:
        return program.run(plain)
    except RuleFailed as exc:
        raise ExportFailed(f"export format {fmt!r} failed: {exc}") from None


def export_documents(
    passports: list[tuple[Passport, Container[str] | None]],
    fmt: str,
    mappings: Mapping[str, RunsMapping] | None = None,
) -> list[Any]:
    """Each (passport, mask) in format `fmt`, or the `ExportFailed` it gave, in order.

    As `export_document` for each; a mapping document runs them all in one call, which
    for a capped worker pool is one round trip (the bulk export's page).
    """
    program = mappings.get(fmt) if mappings and fmt not in EXPORT_FORMATS else None
    if program is None:
        out: list[Any] = []
        for passport, mask in passports:
            try:
                out.append(export_document(passport, fmt, mask, mappings))
            except ExportFailed as exc:
                out.append(exc)
        return out
    plains = [to_plain(p) if m is None else redact(to_plain(p), m) for p, m in passports]
    return [
        ExportFailed(f"export format {fmt!r} failed: {result}")
        if isinstance(result, RuleFailed)
        else result
        for result in program.run_many(plains)
    ]
