"""Transforms shared by adapters: times, codes and rounding over canonical plain values."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from .mapping import Transform

__all__ = ["code_table", "local_time", "rounded_int", "whole_seconds"]


def whole_seconds(text: str) -> str:
    """A canonical UTC time with its fraction of a second dropped."""
    dot = text.find(".")
    return text if dot < 0 else text[:dot] + "Z"


def local_time(zone: str) -> Transform:
    """UTC `Z` time <-> `YYYY-MM-DD HH:mm:ss` wall-clock time in `zone`, without offset.

    Only a zone without repeated wall-clock hours makes this reversible: Asia/Shanghai has
    had no daylight saving time since 1991, so every local second names one instant.
    """
    tz = ZoneInfo(zone)

    def encode(text: str) -> str:
        return datetime.fromisoformat(text).astimezone(tz).isoformat(" ", "seconds")[:19]

    parse, offset = datetime.fromisoformat, tz.utcoffset

    def decode(text: str) -> str:
        # Naive arithmetic with the zone's offset at that wall-clock time: what
        # `replace(tzinfo=tz).astimezone(UTC)` computes, without building aware datetimes.
        local = parse(text)
        return (local - offset(local)).isoformat() + "Z"  # type: ignore[operator]  # a ZoneInfo's offset is never None

    return Transform(
        f"UTC -> {zone} local time YYYY-MM-DD HH:mm:ss",
        encode,
        decode,
        loss="fractions of a second",
        normalize=whole_seconds,
    )


def code_table(kind: type[enum.Enum], codes: Mapping[str, int]) -> Transform:
    """Enum member name <-> numeric code; a bijection checked at import time."""
    if set(codes) != set(kind.__members__) or len(set(codes.values())) != len(codes):
        raise ValueError(f"code table for {kind.__name__} must map every member once")
    back = {v: k for k, v in codes.items()}
    listing = ", ".join(f"{k}={v}" for k, v in codes.items())
    return Transform(f"{kind.__name__} code ({listing})", codes.__getitem__, back.__getitem__)


def _half_even(value: float) -> int:
    return round(value)


def _float_of_int(value: int) -> float:
    return float(value)


def _rounded(value: float) -> float:
    return float(round(value))


def rounded_int(what: str) -> Transform:
    """A float rounded half to even to an integer: 87.5 -> 88, 86.5 -> 86."""
    return Transform(
        f"{what} -> integer, rounded half to even",
        _half_even,
        _float_of_int,
        loss="fraction below 1 (rounded half to even)",
        normalize=_rounded,
    )
