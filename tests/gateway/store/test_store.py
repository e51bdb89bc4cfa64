"""The registry store on SQLite and on PostgreSQL: snapshots in step with logs,
tamper detection, paging, migrations, concurrent writers.

Every test taking `store` or `empty_store` runs once per backend.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import (
    EventRejected,
    IdempotencyConflict,
    RobotExists,
    SqliteStore,
    Store,
    UnknownRobot,
)
from gateway.store.migrations import MigrationError, available
from gateway.web.app import create_app
from schema.events import LEGACY_SCHEME, EventType, fold, rechain
from schema.source import CursorError, RobotFilter, RobotRecord
from tests.support.stores import clones, empty_store, outside, record, store

__all__ = ["empty_store", "store"]  # fixtures on both backends, used by parameter name


def again(store: Store) -> Store:
    """Another store object on the same database, as a second process would open it."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    from gateway.store.postgres import PostgresStore

    return PostgresStore(store.url)


def snapshot_of(store: Store) -> list[tuple]:
    return outside(store, "SELECT * FROM events ORDER BY code, sequence") + outside(
        store, "SELECT code, head_sequence, head_hash, snapshot FROM robots ORDER BY code"
    )


def test_snapshot_equals_fold_of_stored_log(store, fleet):
    for events in fleet[:10]:
        code = events[0].code
        assert store.passport(code) == fold(store.events(code)) == fold(events)
        assert store.head(code).hash == events[-1].hash


def test_wal_mode(tmp_path):
    s = SqliteStore(tmp_path / "wal.db")
    assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_registry_store_is_the_deprecated_name_of_sqlite_store():
    """The old name keeps working for a release, from the package."""
    import gateway.store

    assert gateway.store.RegistryStore is SqliteStore


@pytest.mark.process
def test_importing_the_store_does_not_need_psycopg():
    """psycopg is optional: `gateway.store` loads it only when PostgresStore is asked for."""
    probe = (
        "import sys, gateway.store\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'\n"
        "gateway.store.PostgresStore\n"
        "assert 'psycopg' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("column", ["payload", "at", "type", "hash", "prev_hash"])
def test_hand_edit_of_stored_event_is_found_at_its_sequence(store, fleet, column):
    code = fleet[3][0].code
    k = len(fleet[3]) // 2 + 1
    value = {
        "payload": orjson.dumps({**fleet[3][k - 1].payload, "note": "edited"}).decode(),
        "at": "2020-01-01T00:00:00Z",
        "type": "STATUS_CHANGED",
        "hash": "f" * 64,
        "prev_hash": "0" * 64,
    }[column]
    assert store.verify_chain(code).verified
    outside(
        store, f"UPDATE events SET {column} = ? WHERE code = ? AND sequence = ?", (value, code, k)
    )
    report = store.verify_chain(code)
    assert not report.verified
    assert report.first_bad == k
    assert all(store.verify_chain(e[0].code).verified for e in fleet if e[0].code != code)


def test_unreadable_row_and_truncation_are_found(store, fleet):
    code = fleet[4][0].code
    outside(
        store, "UPDATE events SET payload = '{not json' WHERE code = ? AND sequence = 2", (code,)
    )
    last = len(fleet[5])
    outside(store, "DELETE FROM events WHERE code = ? AND sequence = ?", (fleet[5][0].code, last))
    assert store.verify_chain(code).first_bad == 2
    assert store.verify_chain(fleet[5][0].code).first_bad == last


def test_append_keeps_snapshot_and_chain(store, fleet):
    code = fleet[0][0].code
    before = store.passport(code)
    event = store.append(
        code, EventType.MAINTENANCE_RECORDED, record(), datetime(2026, 10, 30, 8, tzinfo=UTC)
    )
    assert event.sequence == len(fleet[0]) + 1
    assert event.prev_hash == fleet[0][-1].hash
    after = store.passport(code)
    assert len(after.maintenance) == len(before.maintenance) + 1
    assert store.verify_chain(code).verified


def test_idempotent_retry_writes_nothing(store, fleet):
    code, at = fleet[0][0].code, datetime(2026, 10, 30, 8, tzinfo=UTC)
    first = store.append(code, EventType.MAINTENANCE_RECORDED, record(), at, idempotency_key="k1")
    state = snapshot_of(store)
    again = store.append(code, EventType.MAINTENANCE_RECORDED, record(), at, idempotency_key="k1")
    assert again == first
    assert snapshot_of(store) == state
    with pytest.raises(IdempotencyConflict):
        store.append(code, EventType.MAINTENANCE_RECORDED, record(9), at, idempotency_key="k1")
    assert snapshot_of(store) == state


def test_bad_writes_change_nothing(store, fleet):
    code = fleet[0][0].code
    state = snapshot_of(store)
    at = datetime(2026, 10, 30, tzinfo=UTC)
    with pytest.raises(UnknownRobot):
        store.append("CNH7K2H0A1B32605281000012345A", EventType.MAINTENANCE_RECORDED, record(), at)
    with pytest.raises(EventRejected):
        store.append(code, EventType.MAINTENANCE_RECORDED, {"at": "nonsense"}, at)
    with pytest.raises(EventRejected):
        store.append(
            code,
            EventType.INCIDENT_UPDATED,
            {"incident_id": "nope", "status": "CLOSED", "root_cause": "UNKNOWN"},
            at,
        )
    with pytest.raises(RobotExists):
        store.import_histories([fleet[1]])
    tampered = list(fleet[2])
    tampered[1] = tampered[2]
    with pytest.raises(EventRejected, match="sequence 2"):
        store.import_histories([tampered])
    assert snapshot_of(store) == state


def test_failed_batch_import_stores_none_of_it(empty_store, fleet):
    with pytest.raises(RobotExists):
        empty_store.import_histories([fleet[0], fleet[1], fleet[0]])
    assert empty_store.count() == 0
    assert outside(empty_store, "SELECT COUNT(*) FROM events") == [(0,)]


def test_as_of(store, fleet):
    events = max(fleet, key=len)
    code = events[0].code
    moment = events[len(events) // 2].at
    past = store.record(code, moment)
    assert past.passport == fold(events, until=moment)
    assert past.head.sequence == max(e.sequence for e in events if e.at <= moment)
    assert store.record(code, events[0].at - timedelta(seconds=1)) is None


def test_a_past_view_carries_the_present_and_its_log_stops_there(store, fleet):
    events = max(fleet, key=len)
    code = events[0].code
    moment = events[len(events) // 2].at
    past, now = store.record(code, moment), store.record(code)
    assert past.passport != now.passport, "the moment must be in the past"
    assert past.current == now.passport and past.present == now.passport
    with pytest.raises(ValueError, match="as it stands now"):
        RobotRecord(past.passport, past.head, moment)
    expected = [e.sequence for e in events if e.at <= moment]
    assert len(expected) < len(events)
    shown, after = [], None
    while True:
        page = store.history(code, 3, after, until=moment)
        shown += [e.sequence for e in page.items]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert shown == expected, "every event up to the moment once, none after it"
    assert not store.history(code, len(expected), None, until=moment).has_next_page
    assert store.history(code, len(expected) - 1, None, until=moment).has_next_page
    report = store.verify_chain(code, past.head.sequence)
    assert report.verified
    assert (report.length, report.head_hash) == (past.head.sequence, past.head.hash)


def test_a_past_log_is_read_across_chunks(empty_store, fleet):
    """More events than one read of `Store.events` takes, most of them after the moment."""
    s = empty_store
    s.import_histories([fleet[0]])
    code, moment = fleet[0][0].code, fleet[0][-1].at
    late = moment + timedelta(days=1)
    for n in range(300):
        s.append(code, EventType.MAINTENANCE_RECORDED, record(n), late, idempotency_key=f"k{n}")
    s.append(code, EventType.MAINTENANCE_RECORDED, record(9999), moment, idempotency_key="back")
    kept = s.events(code, until=moment)
    assert [e.sequence for e in kept] == [*(e.sequence for e in fleet[0]), len(fleet[0]) + 301]
    assert s.events(code, until=moment, limit=2) == kept[:2]


@pytest.mark.slow
def test_graphql_pages_through_10000_robots_without_duplicate_or_gap(empty_store, fleet):
    s = empty_store
    s.import_histories(clones(fleet[0], 10_000))
    app = create_app(Services(LocalSource(s), policy=None))
    query = """query ($after: String) { robots(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { code } } } }"""

    async def walk() -> tuple[list[str], int]:
        seen, after, pages = [], None, 0
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            while True:
                body = {"query": query, "variables": {"after": after}}
                page = (await client.post("/graphql", json=body)).json()["data"]["robots"]
                seen += [e["node"]["code"] for e in page["edges"]]
                pages += 1
                if not page["pageInfo"]["hasNextPage"]:
                    return seen, pages
                after = page["pageInfo"]["endCursor"]

    seen, pages = asyncio.run(walk())
    assert pages == 100
    assert len(seen) == len(set(seen)) == 10_000 == s.count()
    assert seen == sorted(seen) == s.codes()


def test_filters(store, fleet):
    passports = [fold(e) for e in fleet]
    maker = passports[0].manufacturer.name
    expected = sorted(p.code for p in passports if p.manufacturer.name == maker)
    page = store.page(RobotFilter(manufacturer=maker), 100)
    assert [r.passport.code for r in page.items] == expected
    assert store.count(RobotFilter(manufacturer=maker)) == len(expected)
    assert store.count(RobotFilter(status="NO_SUCH_STATUS")) == 0


def test_foreign_cursor_is_rejected(store):
    with pytest.raises(CursorError):
        store.page(RobotFilter(), 10, "%%%not-a-cursor")
    with pytest.raises(CursorError):
        store.history("x", 10, "Zm9v")


# -- migrations ---------------------------------------------------------------


def test_new_database_is_at_the_latest_migration(empty_store):
    latest = available(empty_store.dialect)[-1]
    assert empty_store.schema_version() == latest.version
    rows = outside(empty_store, "SELECT version, name FROM store_migrations ORDER BY version")
    assert rows == [(m.version, m.name) for m in available(empty_store.dialect)]


def test_reopening_applies_nothing_twice(store, fleet):
    state = snapshot_of(store)
    again(store).close()
    assert snapshot_of(store) == state
    count = len(available(store.dialect))
    assert outside(store, "SELECT COUNT(*) FROM store_migrations") == [(count,)]


def test_database_newer_than_the_code_is_refused(store):
    outside(store, "INSERT INTO store_migrations VALUES (99, 'future', '2030-01-01T00:00:00Z')")
    with pytest.raises(MigrationError, match="schema version 99, newer than this code's"):
        again(store)


def test_sqlite_file_from_before_migrations_is_adopted(tmp_path, fleet):
    s = SqliteStore(tmp_path / "old.db")
    s.import_histories([rechain(h, LEGACY_SCHEME) for h in fleet[:3]])
    s.close()
    for statement in (
        "DROP INDEX events_owner_id_position",
        "DROP INDEX events_owner_position",
        "ALTER TABLE events DROP COLUMN owner",
        "ALTER TABLE events DROP COLUMN owner_id",
        "DROP INDEX events_legacy",
        "ALTER TABLE events DROP COLUMN scheme",
        "ALTER TABLE events DROP COLUMN salt",
        "ALTER TABLE events DROP COLUMN commitment",
        "DROP TABLE store_migrations",
        "DROP TABLE condition_samples",
        "DROP TABLE condition_daily",
        "DROP TABLE links",
        "DROP INDEX events_position",
        "ALTER TABLE events DROP COLUMN position",
        "DROP INDEX robots_owner_id",
        "ALTER TABLE robots DROP COLUMN owner_id",
        "DROP TABLE campaigns",
        "DROP TABLE campaign_robots",
        "DROP TABLE campaign_counts",
        "DROP TABLE campaign_country_counts",
        "DROP TABLE webhooks",
        "DROP TABLE webhook_deliveries",
    ):
        outside(s, statement)
    reopened = SqliteStore(tmp_path / "old.db")
    assert reopened.schema_version() == len(available("sqlite"))
    assert reopened.count() == 3
    total = sum(len(history) for history in fleet[:3])
    assert [c.position for c in reopened.changes(limit=total)] == list(range(1, total + 1))
    assert reopened.passport(fleet[0][0].code) == fold(fleet[0])
    assert all(reopened.verify_chain(h[0].code).verified for h in fleet[:3])
    assert reopened.legacy_count() == 3


def test_replicas_starting_at_once_migrate_once(pg_url):
    from gateway.store.postgres import PostgresStore

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: PostgresStore(pg_url), range(4)))
    latest = len(available("postgresql"))
    assert [s.schema_version() for s in stores] == [latest] * 4
    assert outside(stores[0], "SELECT COUNT(*) FROM store_migrations") == [(latest,)]
    for s in stores:
        s.close()


def test_unreachable_server_is_a_clear_error():
    from gateway.store import PostgresStore, StoreUnavailable

    with pytest.raises(StoreUnavailable, match="cannot connect to PostgreSQL"):
        PostgresStore("postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2")


# -- concurrent writers -------------------------------------------------------


def test_concurrent_appends_to_one_robot_lose_nothing(store, fleet):
    """Writers on their own connections append to one robot: every event lands, in one chain."""
    code, base = fleet[0][0].code, len(fleet[0])
    at = datetime(2026, 10, 30, 8, tzinfo=UTC)
    writers = [again(store) for _ in range(4)]

    def write(w: int) -> list[int]:
        return [
            writers[w]
            .append(code, EventType.MAINTENANCE_RECORDED, record(w * 100 + i), at)
            .sequence
            for i in range(10)
        ]

    with ThreadPoolExecutor(4) as pool:
        sequences = [n for got in pool.map(write, range(4)) for n in got]
    assert sorted(sequences) == list(range(base + 1, base + 41))
    assert store.head(code).sequence == base + 40
    assert store.verify_chain(code).verified
    hours = {m.hours_at_service for m in store.passport(code).maintenance}
    assert {w * 100 + i for w in range(4) for i in range(10)} <= hours
    for w in writers:
        w.close()


def test_same_key_from_concurrent_writers_is_stored_once(store, fleet):
    code = fleet[1][0].code
    at = datetime(2026, 10, 30, 8, tzinfo=UTC)
    writers = [again(store) for _ in range(4)]

    def write(w: int):
        return writers[w].append(
            code, EventType.MAINTENANCE_RECORDED, record(), at, idempotency_key="same"
        )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(write, range(4)))
    assert all(r == results[0] for r in results)
    assert store.head(code).sequence == len(fleet[1]) + 1
    assert outside(store, "SELECT COUNT(*) FROM events WHERE idempotency_key = 'same'") == [(1,)]
    for w in writers:
        w.close()


def test_key_reused_for_another_robot_is_a_conflict(store, fleet):
    at = datetime(2026, 10, 30, 8, tzinfo=UTC)
    store.append(
        fleet[0][0].code, EventType.MAINTENANCE_RECORDED, record(), at, idempotency_key="k"
    )
    state = snapshot_of(store)
    with pytest.raises(IdempotencyConflict):
        store.append(
            fleet[1][0].code, EventType.MAINTENANCE_RECORDED, record(), at, idempotency_key="k"
        )
    assert snapshot_of(store) == state


def test_constraints_refuse_a_forked_chain(store, fleet):
    """Even SQL that bypasses the store cannot store two events at one sequence."""
    code = fleet[0][0].code
    if isinstance(store, SqliteStore):
        refused: type[Exception] = sqlite3.IntegrityError
    else:
        from psycopg.errors import UniqueViolation as refused
    with pytest.raises(refused, match=r"(?i)unique|duplicate"):
        outside(
            store,
            "INSERT INTO events SELECT code, sequence, at, type, payload, prev_hash, hash,"
            " recorded_at, NULL, NULL, scheme, salt, commitment, owner, owner_id FROM events"
            " WHERE code = ? AND sequence = 1",
            (code,),
        )


def test_replica_reports_a_lost_connection_then_reconnects(pg_url, fleet):
    from gateway.cli.serve import readiness
    from gateway.store.postgres import PostgresStore

    s = PostgresStore(pg_url, pool_size=1)
    s.import_histories(fleet[:2])
    app = create_app(Services(LocalSource(s), policy=None), ready=readiness(s))

    async def probe() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/readyz")).status_code

    assert asyncio.run(probe()) == 200
    with s._reading() as db:  # the pool's one connection
        backend = db.conn.info.backend_pid
    outside(s, "SELECT pg_terminate_backend(?)", (backend,))
    assert [asyncio.run(probe()), asyncio.run(probe())] == [503, 200]
    assert s.count() == 2
    s.close()


# -- change feed --------------------------------------------------------------


def test_change_feed_lists_every_event_once_in_order(store, fleet):
    total = sum(len(history) for history in fleet)
    seen, after = [], 0
    while page := store.changes(after, limit=97):
        seen.extend(page)
        after = page[-1].position
    assert [c.position for c in seen] == list(range(1, total + 1))
    assert sorted((c.event.code, c.event.sequence) for c in seen) == sorted(
        (e.code, e.sequence) for history in fleet for e in history
    )


def test_change_feed_continues_after_an_append_and_filters_by_owner(store, fleet):
    last = store.changes(0, limit=100_000)[-1].position
    code = fleet[0][0].code
    at = datetime(2026, 10, 30, 8, tzinfo=UTC)
    event = store.append(code, EventType.MAINTENANCE_RECORDED, record(), at)
    assert [(c.position, c.event) for c in store.changes(last)] == [(last + 1, event)]
    owners = {
        p.current_owner.owner for c in store.codes() if (p := store.passport(c)).current_owner
    }
    owner = sorted(owners)[0]
    mine = store.changes(0, limit=100_000, where=RobotFilter(owner=owner))
    assert mine
    assert {store.passport(c.event.code).current_owner.owner for c in mine} == {owner}


def test_links_are_put_updated_listed_and_deleted(empty_store):
    first = datetime(2026, 6, 1, tzinfo=UTC)
    empty_store.put_link("CNB", "cn-heis", first)
    empty_store.put_link("CNA", "cn-heis", first)
    empty_store.put_link("CNB", "cn-heis", first + timedelta(days=1))
    assert [(x.code, x.since) for x in empty_store.links()] == [
        ("CNA", first),
        ("CNB", first + timedelta(days=1)),
    ]
    assert [x.code for x in empty_store.links(after="CNA")] == ["CNB"]
    assert empty_store.delete_link("CNA") is True
    assert empty_store.delete_link("CNA") is False
    assert [x.code for x in empty_store.links()] == ["CNB"]


def test_log_entries_reads_many_leaves_at_once_and_leaves_out_the_absent(store: Store) -> None:
    codes = store.codes()[:3]
    wanted = [(code, event.sequence) for code in codes for event in store.events(code)[:2]]
    found = store.log_entries([*wanted, (codes[0], 10**6)])
    assert set(found) == set(wanted)
    for key in wanted:
        assert found[key] == store.log_entry(*key)
    assert store.log_entries([]) == {}
