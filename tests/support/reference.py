"""Locate the official reference files where `robopass mapping check` looks for them.

The places are the command's own (`gateway.workbench.checkers.reference_candidates`:
`workbench.reference`, i.e. ROBOPASS_REFERENCE, then ../shared/reference beside the
working folder or the checkout), so a test never expects a check the command cannot
run. A test that needs a file skips with a clear message when it is absent (a fresh
clone); with ROBOPASS_REQUIRE_REFERENCE=1 (CI) it fails instead.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from gateway.config.settings import load_config
from gateway.workbench.checkers import reference_candidates

REQUIRE = "ROBOPASS_REQUIRE_REFERENCE"


def reference_file(relative: str) -> Path:
    configured = load_config(None, os.environ).workbench.reference
    for base in reference_candidates(configured):
        path = base / relative
        if path.is_file():
            return path.resolve()
    message = f"reference file {relative} not found: set ROBOPASS_REFERENCE (fresh clone?)"
    if os.environ.get(REQUIRE):
        pytest.fail(f"{message}; {REQUIRE} is set")
    pytest.skip(message)


@cache
def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def reference_json(relative: str) -> Any:
    return _load(reference_file(relative))
