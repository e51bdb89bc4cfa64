"""An adapter as the translation registry sees it: rules plus four pure functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .mapping import FieldRule

__all__ = ["Format", "Plain"]

Plain = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Format:
    """One external format.

    `validate` raises `InvalidDocument` listing every violation; `decode` turns a valid
    document into canonical plain data (see `schema.codec`) and `encode` does the reverse.
    `rules` is what both the mapping table and the loss report are computed from.
    """

    name: str
    rules: tuple[FieldRule, ...]
    validate: Callable[[Any], None]
    decode: Callable[[Any], Plain]
    encode: Callable[[Plain], Any]
