"""The decoded-passport cache keeps one version per robot (`gateway.store.decoded`).

The soak run (bench/soak.py) found a replica taking writes growing by about a
passport per write: each write reads the robot's head first, and the cache
kept every superseded version until its count bound, hundreds of megabytes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from gateway.store import Store
from gateway.store.decoded import DecodedPassports
from schema.codec import to_plain
from schema.events import EventType
from tests.support.stores import empty_store, record, store  # noqa: F401  # both backends


def snapshot(source: Store, code: str) -> tuple[str, bytes]:
    current = source.record(code)
    assert current is not None
    return current.head.hash, orjson.dumps(to_plain(current.passport))


def test_a_newer_head_of_a_robot_replaces_the_older_one(store: Store, fleet) -> None:  # noqa: F811
    code, other = fleet[0][0].code, fleet[1][0].code
    cache = DecodedPassports(size=100)
    old_hash, old = snapshot(store, code)
    kept = cache.get(old_hash, old, code)
    assert cache.get(old_hash, old, code) is kept and cache.hits == 1
    other_hash, other_snapshot = snapshot(store, other)
    cache.get(other_hash, other_snapshot, other)
    at = datetime(2026, 10, 30, 8, tzinfo=UTC)
    store.append(code, EventType.MAINTENANCE_RECORDED, record(), at, idempotency_key="decoded-1")
    new_hash, new = snapshot(store, code)
    assert new_hash != old_hash
    newer = cache.get(new_hash, new, code)
    assert newer is not kept and len(cache) == 2, "the old version is gone, the other kept"
    assert cache.get(old_hash, old, code) is not kept, "decoded again: it was dropped"
    assert cache.get(other_hash, other_snapshot, other) is not None and cache.misses == 4


def test_the_count_bound_still_holds_and_evicts_the_least_recent(store: Store, fleet) -> None:  # noqa: F811
    cache = DecodedPassports(size=2)
    heads = [(*snapshot(store, log[0].code), log[0].code) for log in fleet[:3]]
    for hash_, data, code in heads[:2]:
        cache.get(hash_, data, code)
    cache.get(heads[0][0], heads[0][1], heads[0][2])  # the first is used again
    cache.get(*heads[2])
    assert len(cache) == 2
    hits = cache.hits
    cache.get(*heads[0])
    cache.get(*heads[2])
    assert cache.hits == hits + 2, "the one used again and the newest are kept"
    cache.get(*heads[1])
    assert cache.hits == hits + 2, "the least recently used was evicted"
