"""A stored passport in any format, cut to what one caller may see.

The mask applies to the canonical plain form before any adapter runs, so every
format is redacted by the same paths and no adapter needs to know about
policies. A redacted document is partial: it is not checked against its
format's schema, which describes whole passports.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from adapters.translate import FORMATS
from policies.mask import redact
from schema.codec import to_plain
from schema.passport import Passport

__all__ = ["EXPORT_FORMATS", "UnknownFormat", "export_document"]

EXPORT_FORMATS = ("canonical", "cn-miit", "aas", "untp-dpp")


class UnknownFormat(ValueError):
    """A format name that is not one of `EXPORT_FORMATS`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown export format {name!r}; known: {', '.join(EXPORT_FORMATS)}")
        self.name = name


def export_document(passport: Passport, fmt: str, mask: Container[str] | None = None) -> Any:
    """`passport` in format `fmt` without any canonical path outside `mask` (None: whole)."""
    if fmt not in EXPORT_FORMATS:
        raise UnknownFormat(fmt)
    plain = to_plain(passport)
    if mask is not None:
        plain = redact(plain, mask)
    return FORMATS[fmt].encode(plain)
