"""The PostgreSQL feed watcher hears its own registry only: two registries in one database
(two schemas, as tests and small operators run them) neither wake nor wait for each other."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from gateway.store import PostgresStore
from tests.support.seeded import fresh_schema
from tests.support.stores import clones


@pytest.fixture
def neighbour(pg_server: str) -> Iterator[str]:
    """A second registry's schema in the same database as `pg_url`'s."""
    with fresh_schema(pg_server) as url:
        yield url


def test_a_write_wakes_only_its_own_schemas_watcher(pg_url, neighbour, fleet) -> None:
    ours, theirs = PostgresStore(pg_url), PostgresStore(neighbour)
    wakes: list[float] = []
    woken = threading.Event()

    def on_change() -> None:
        wakes.append(time.monotonic())
        woken.set()

    watcher = ours.watch_feed(on_change, 0.25)
    try:
        deadline = time.monotonic() + 10
        while not watcher.listening:
            assert time.monotonic() < deadline, "the watcher never listened"
            time.sleep(0.02)
        time.sleep(0.1)
        woken.clear()
        start = len(wakes)
        # Notifications reach a listener in commit order: once ours is heard, theirs,
        # committed first, would have been heard already.
        theirs.import_histories(clones(fleet[0], 2))
        ours.import_histories(clones(fleet[0], 2, start=10))
        assert woken.wait(10), "our own write never woke our watcher"
        time.sleep(0.2)
        assert len(wakes) - start == 1, "the other registry's write woke our watcher"
    finally:
        watcher.stop()
        ours.close()
        theirs.close()
