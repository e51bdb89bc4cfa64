"""Golden samples: cn-miit documents and what each adapter must make of them.

`samples/fleet/` is generated from the synthetic fleet; `samples/edge/` holds hand-written
inputs for the cases a fleet rarely produces. For every input `<name>.cn-miit.json` the
expected outputs `<name>.aas.json` and `<name>.untp-dpp.json` sit beside it, so a change
in an adapter's output shows up as a diff of files a reviewer can read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from adapters import cn_miit
from adapters.errors import InvalidDocument
from adapters.translate import translate
from gateway.synthetic.fleet import synthetic_fleet
from schema.events import fold

from .documents import dump

__all__ = [
    "FLEET_ROBOTS",
    "FLEET_SEED",
    "GOLDEN_TARGETS",
    "SOURCE",
    "BadSample",
    "golden_path",
    "inputs",
    "planned_files",
    "stale_files",
]

SOURCE = "cn-miit"
GOLDEN_TARGETS = ("aas", "untp-dpp")
FLEET_SEED = 0
FLEET_ROBOTS = (0, 3, 9)
"""Robots of the seed-0 fleet: one with an incident, one sold to a person, a young one."""

SUFFIX = f".{SOURCE}.json"


class BadSample(ValueError):
    """A hand-written input that is not JSON or not a valid cn-miit document."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


def golden_path(sample: Path, target: str) -> Path:
    """`x.cn-miit.json` -> `x.<target>.json` in the same folder."""
    return sample.with_name(sample.name.removesuffix(SUFFIX) + f".{target}.json")


def fleet_documents() -> dict[str, dict[str, Any]]:
    """The fleet samples by file stem: robots FLEET_ROBOTS of the seed-0 fleet in cn-miit."""
    wanted = set(FLEET_ROBOTS)
    docs = {}
    for index, history in enumerate(synthetic_fleet(max(wanted) + 1, seed=FLEET_SEED)):
        if index in wanted:
            passport = fold(history)
            assert passport is not None, "a synthetic history starts with REGISTERED"
            docs[f"robot-{index:02d}"] = cn_miit.from_canonical(passport)
    return docs


def inputs(root: Path) -> Iterator[Path]:
    """Every sample input under `root`, in a stable order."""
    yield from sorted(root.rglob(f"*{SUFFIX}"))


def planned_files(root: Path) -> dict[Path, bytes]:
    """Every file `mapping samples` writes under `root`, with its exact bytes.

    The fleet inputs come from the generator; hand-written inputs elsewhere under `root`
    are read as they are. Each input gets its golden outputs. An invalid input raises
    `InvalidDocument`.
    """
    files: dict[Path, bytes] = {}
    docs: dict[Path, Any] = {}
    for stem, doc in fleet_documents().items():
        path = root / "fleet" / f"{stem}{SUFFIX}"
        files[path] = dump(doc, pretty=True)
        docs[path] = doc
    for path in inputs(root):
        if path not in docs and path.parent != root / "fleet":
            try:
                docs[path] = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError as exc:
                raise BadSample(path, f"not valid JSON: {exc}") from None
    for path, doc in sorted(docs.items()):
        for target in GOLDEN_TARGETS:
            try:
                output = translate(doc, SOURCE, target).output
            except InvalidDocument as exc:
                raise BadSample(path, str(exc)) from None
            files[golden_path(path, target)] = dump(output, pretty=True)
    return files


def stale_files(root: Path, planned: dict[Path, bytes]) -> list[Path]:
    """Generated files under `root` that would not be written now.

    Fleet inputs the generator no longer makes, and golden outputs whose input is gone.
    """
    fleet = sorted((root / "fleet").glob(f"*{SUFFIX}")) if (root / "fleet").is_dir() else []
    goldens = [p for t in GOLDEN_TARGETS for p in root.rglob(f"*.{t}.json")]
    return sorted(p for p in [*fleet, *goldens] if p not in planned)
