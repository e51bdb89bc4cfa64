"""Whole-registry verification page by page (`gateway.service.verifying`), both backends.

Pages partition the registry: every robot is checked once, whatever the page
size. A page is read in one snapshot: an append that commits between the
page's queries (heads read, events not yet) is not seen by either, so a live
registry is never reported broken because it was written to while verified.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from gateway.service.verifying import verify_pages
from gateway.store import SqliteStore, Store
from schema.events import EventType
from tests.support.stores import empty_store, record, reopen, store  # noqa: F401  # both backends


def url_of(registry: Store) -> str:
    return f"sqlite:///{registry.path}" if isinstance(registry, SqliteStore) else registry.url


@pytest.mark.parametrize("page", [1, 7, 60, 500])
def test_pages_partition_the_registry(store, page):  # noqa: F811
    verdicts = list(verify_pages(store, url_of(store), page=page))
    assert [v.checked for v in verdicts[:-1]] == [page] * (len(verdicts) - 1)
    assert sum(v.checked for v in verdicts) == store.count() == 60
    assert all(v.broken == () for v in verdicts)


class _Fetched:
    def __init__(self, rows: list) -> None:
        self.rows = rows

    def fetchall(self) -> list:
        return self.rows


def test_an_append_committed_between_a_pages_queries_is_not_seen(
    store,  # noqa: F811
    fleet,
    request,
    tmp_path,
    monkeypatch,
):
    code = fleet[0][0].code
    backend = "sqlite" if isinstance(store, SqliteStore) else "postgresql"
    writer = reopen(backend, tmp_path / "registry.db", request)
    head = store.head(code)
    snapshot = store._snapshot

    @contextmanager
    def append_after_heads() -> Iterator:
        """The page's snapshot, with another connection appending to `code` as soon as
        the heads are read (the events not yet)."""
        with snapshot() as db:
            done = []

            class Db:
                def execute(self, sql: str, params=()):
                    rows = db.execute(sql, params).fetchall()
                    if not done:
                        done.append(
                            writer.append(
                                code,
                                EventType.MAINTENANCE_RECORDED,
                                record(),
                                datetime(2026, 10, 30, 8, tzinfo=UTC),
                            )
                        )
                    return _Fetched(rows)

            yield Db()

    monkeypatch.setattr(store, "_snapshot", append_after_heads)
    try:
        ranges = [(a, b) for a, b in store.range_ends(7) if a < code <= b]
        verdict = store.verify_range(*ranges[0])
    finally:
        writer.close()
    monkeypatch.undo()
    assert verdict.checked == 7 and verdict.broken == ()
    assert store.head(code).sequence == head.sequence + 1, "the append did commit"
    again = store.verify_range(*ranges[0])
    assert again.broken == ()
