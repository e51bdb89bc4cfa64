"""Assertions shared by the adapters' round-trip tests."""

from __future__ import annotations

from typing import Any

from adapters.mapping import FieldRule, Status, values_at


def assert_preserved(before: dict[str, Any], after: dict[str, Any], rules: list[FieldRule]):
    """Every LOSSLESS field is equal after the round trip, every LOSSY one normalized."""
    for rule in rules:
        if rule.status is Status.UNMAPPED:
            continue
        old, new = list(values_at(before, rule.path)), list(values_at(after, rule.path))
        if rule.status is Status.LOSSY:
            norm = rule.transform.normalize
            old = [None if v is None else norm(v) for v in old]
        assert new == old, f"{rule.path}: {old!r} became {new!r}"
