"""Run `robopass` as a real process, the way a user or a CI job does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

SAMPLES = ROOT / "samples"


def robopass(
    *args: str | Path, stdin: bytes | str | None = None, cwd: Path = ROOT, text: bool = False
) -> subprocess.CompletedProcess:
    """Exit code, stdout and stderr (text) of one command, as a shell sees them.

    stdout stays bytes unless `text` (exports are bytes; most commands print text).
    """
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *map(str, args)],
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        capture_output=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    proc.stderr = proc.stderr.decode("utf-8")
    if text:
        proc.stdout = proc.stdout.decode("utf-8")
    return proc


def robopass_text(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`robopass` as above, stdout decoded: for commands that print text."""
    return robopass(*args, stdin=stdin, text=True)
