"""Locate ../shared/reference; tests that need it skip with a clear message when absent."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT

CANDIDATES = [ROOT / "../shared/reference", Path("/work/shared/reference")]


def reference_file(relative: str) -> Path:
    for base in CANDIDATES:
        path = base / relative
        if path.is_file():
            return path.resolve()
    pytest.skip(f"reference file {relative} not found under ../shared/reference (fresh clone?)")


@cache
def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def reference_json(relative: str) -> Any:
    return _load(reference_file(relative))
