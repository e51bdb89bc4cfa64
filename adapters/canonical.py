"""The canonical plain JSON form itself, as a format: the hub every translation goes through."""

from __future__ import annotations

from typing import Any

from schema.codec import DecodeError, from_plain
from schema.passport import Passport

from .errors import InvalidDocument, Violation
from .format import Format, Plain
from .shape import compile_shape, mirror

__all__ = ["FORMAT", "NAME", "validate"]

NAME = "canonical"


def validate(doc: Any) -> None:
    """Check canonical plain data by decoding it; the codec stops at the first problem."""
    try:
        from_plain(Passport, doc)
    except DecodeError as exc:
        raise InvalidDocument(NAME, [Violation(exc.path, exc.message)]) from None


def _copy(doc: Plain) -> Plain:
    return doc


FORMAT = Format(
    name=NAME,
    rules=tuple(compile_shape(Passport, mirror(Passport)).rules),
    validate=validate,
    decode=_copy,
    encode=_copy,
)
