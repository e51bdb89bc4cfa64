"""Seeding a store with a synthetic fleet, resumably.

`robopass serve`, `robopass registry seed`, `robopass registry serve` and the
benchmarks all fill stores the same way, so a demo database made by one is
completed, never duplicated, by another.
"""

from __future__ import annotations

from tqdm import tqdm

from gateway.store.base import Store
from gateway.synthetic.fleet import synthetic_fleet

BATCH = 200


def seed(store: Store, robots: int, *, seed_value: int, country: str, quiet: bool = False) -> int:
    """Make robots 0..N-1 of a synthetic fleet present, in batches, with a progress bar.

    Robots already stored are skipped, so an interrupted seeding resumes and a
    repeated one adds nothing. Returns how many robots were added.
    """
    fleet = synthetic_fleet(robots, seed=seed_value, country=country, registry=store.registry)
    batch: list = []
    added = 0
    with tqdm(total=robots, unit="robot", desc="seeding", disable=quiet) as bar:
        for history in fleet:
            if store.head(history[0].code) is None:
                batch.append(history)
            if len(batch) == BATCH:
                added += store.import_histories(batch)
                batch.clear()
            bar.update()
        added += store.import_histories(batch)
    return added
