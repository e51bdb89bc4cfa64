"""Run `robopass` as a real process, the way a user or a CI job does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def robopass(
    *args: str, stdin: bytes | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """Exit code, stdout (bytes) and stderr (text) of one command."""
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    proc.stderr = proc.stderr.decode("utf-8")
    return proc
