"""Seeding a store with a synthetic fleet, resumably, through the bulk import path.

`robopass serve`, `robopass registry seed`, `robopass registry serve` and the
benchmarks all fill stores the same way, so a demo database made by one is
completed, never duplicated, by another. The fleet's histories are stored as
`robopass registry import` stores documents (`gateway.store.bulk.run_import`):
a batch per transaction, by COPY on PostgreSQL, robots already stored kept.
"""

from __future__ import annotations

from collections.abc import Iterator

from tqdm import tqdm

from gateway.store.base import Store
from gateway.store.bulk import Incoming, Rejected, run_import
from gateway.synthetic.fleet import synthetic_fleet
from schema.events import fold

BATCH = 500


def seed(store: Store, robots: int, *, seed_value: int, country: str, quiet: bool = False) -> int:
    """Make robots 0..N-1 of a synthetic fleet present, in batches, with a progress bar.

    Robots already stored are kept, so an interrupted seeding resumes and a
    repeated one adds nothing. Returns how many robots were added.
    """
    fleet = synthetic_fleet(robots, seed=seed_value, country=country, registry=store.registry)

    def items() -> Iterator[tuple[str, Incoming | Rejected]]:
        for number, history in enumerate(fleet, start=1):
            passport = fold(history)
            assert passport is not None
            yield "synthetic fleet", Incoming.of(number, history, passport)

    with tqdm(total=robots, unit="robot", desc="seeding", disable=quiet) as bar:
        summary = run_import(store, items(), batch=BATCH, progress=bar.update)
    return summary.added
