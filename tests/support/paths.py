"""Where things are: the repository root and the test tree, for tests at any depth."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
