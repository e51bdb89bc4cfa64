"""Verifying a whole registry: pages of robots, checked here or in worker processes.

The main process only walks the codes (`Store.range_ends`, a keyset over the
primary key) and hands out ranges; each worker opens the store once and reads
and checks its ranges itself (`Store.verify_range`), so the reading, the
decoding and the hashing all run in parallel and only the verdicts of broken
robots travel back. Pages come back in code order, so the output is the same
for any number of workers.
"""

from __future__ import annotations

import itertools
import multiprocessing.util
from collections.abc import Iterator

from gateway.service.workers import in_order
from gateway.store.base import Store
from gateway.store.open import open_store
from gateway.store.verifying import ROBOT_PAGE, PageVerdict

_store: Store | Exception | None = None
"""A worker's own store (or why it could not be opened), from `_open`."""


def verify_pages(
    store: Store, db: str, *, workers: int = 1, page: int = ROBOT_PAGE
) -> Iterator[PageVerdict]:
    """Every robot of `store` checked, a page of up to `page` robots per verdict, in code
    order. `db` is the store's URL, for the workers to open it; a registry of one page is
    checked here (starting workers takes longer than checking it)."""
    ranges = store.range_ends(page)
    first = list(itertools.islice(ranges, 2))
    if workers <= 1 or len(first) < 2:
        for after, upto in itertools.chain(first, ranges):
            yield store.verify_range(after, upto)
        return
    yield from in_order(
        _verify_range,
        itertools.chain(first, ranges),
        workers=workers,
        preload=[__name__],
        initializer=_open,
        initargs=(db, store.registry),
    )


def _open(db: str, registry: str) -> None:
    """A worker's store, opened once. A failure is kept for the first task to raise: a
    pool whose initializer fails starts the worker again, forever."""
    global _store
    try:
        _store = open_store(db, registry, pool_size=1, existing=True)
    except Exception as exc:
        _store = exc
        return
    multiprocessing.util.Finalize(None, _store.close, exitpriority=10)


def _verify_range(bounds: tuple[str, str]) -> PageVerdict:
    if isinstance(_store, Exception):
        raise _store
    assert _store is not None
    return _store.verify_range(*bounds)
