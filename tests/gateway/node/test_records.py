"""Native documents of a node: the adapters' encoding, cached by head hash within a byte bound."""

from __future__ import annotations

import orjson
import pytest

from gateway.node.records import Documents
from gateway.service.export import export_document
from gateway.store import SqliteStore


@pytest.mark.process
def test_cache_serves_the_adapter_encoding_and_stays_within_its_bound(store: SqliteStore):
    records = list(store.records(store.codes(limit=12)).values())
    sizes = [len(orjson.dumps(export_document(r.passport, "aas"))) for r in records]
    documents = Documents("aas", max_bytes=sum(sizes[:3]))
    for _ in range(2):
        for record, size in zip(records, sizes, strict=True):
            served = documents.serialized(record)
            assert len(served) == size
            assert orjson.loads(served) == export_document(record.passport, "aas")
            assert documents.cached_bytes <= sum(sizes[:3])
    assert documents.document(records[0]) == export_document(records[0].passport, "aas")


def test_store_reads_many_records_at_once(store: SqliteStore):
    codes = store.codes(limit=5)
    found = store.records([*codes, codes[0], "CNH7K2H0A1B32605281000012345A"])
    assert set(found) == set(codes)
    for code in codes:
        assert found[code].head == store.head(code)
        assert found[code].passport == store.passport(code)


def test_past_views_are_not_cached(store: SqliteStore):
    code = store.codes(limit=1)[0]
    events = store.events(code)
    past = store.record(code, events[1].at)
    documents = Documents("cn-miit")
    assert orjson.loads(documents.serialized(past)) == export_document(past.passport, "cn-miit")
    assert documents.cached_bytes == 0
