"""Migration files: naming, order, splitting, and the refusal of a newer database."""

from __future__ import annotations

import pytest

from gateway.store.migrations import MigrationError, available, check_supported, parse, statements
from gateway.store.open import open_store
from tests.support.stores import outside


def test_files_are_ordered_by_number():
    found = parse({"0002_b.sql": "B", "0001_a.sql": "A", "0003_c.sql": "C"})
    assert [(m.version, m.name, m.sql) for m in found] == [
        (1, "a", "A"),
        (2, "b", "B"),
        (3, "c", "C"),
    ]


@pytest.mark.parametrize(
    "files",
    [
        {"0001_a.sql": "", "0003_c.sql": ""},
        {"0002_b.sql": ""},
        {"0001_a.sql": "", "0001_b.sql": ""},
        {"1_a.sql": ""},
        {"0001-a.sql": ""},
    ],
)
def test_gaps_duplicates_and_bad_names_are_refused(files):
    with pytest.raises(MigrationError):
        parse(files)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_shipped_migrations_parse_and_create_the_same_tables(dialect):
    found = available(dialect)
    assert found[0].version == 1
    created = " ".join(statements(found[0].sql)).lower()
    for table in ("robots", "events"):
        assert f"table if not exists {table} (" in created or f"table {table} (" in created


def test_statements_drop_comments_and_split_on_semicolons():
    sql = "-- a; comment\nCREATE TABLE a (x TEXT); -- trailing; note\n\nCREATE INDEX i ON a (x);\n"
    assert statements(sql) == ["CREATE TABLE a (x TEXT)", "CREATE INDEX i ON a (x)"]


def test_newer_database_is_refused_and_older_accepted():
    known = parse({"0001_a.sql": "", "0002_b.sql": ""})
    check_supported(0, known)
    check_supported(2, known)
    with pytest.raises(MigrationError, match="version 3, newer than this code's 2"):
        check_supported(3, known)


def test_a_dollar_quoted_body_is_one_statement_semicolons_and_all():
    sql = (
        "-- guarded; as 0010 is\nDO $$\nBEGIN\n  IF true THEN\n    EXECUTE 'SELECT 1';\n"
        "  END IF;\nEND\n$$;\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$"
        " LANGUAGE sql;\nSELECT 2;"
    )
    assert statements(sql) == [
        "DO $$\nBEGIN\n  IF true THEN\n    EXECUTE 'SELECT 1';\n  END IF;\nEND\n$$",
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
        "SELECT 2",
    ]


def test_a_dollar_quoted_body_never_closed_is_refused():
    with pytest.raises(MigrationError, match=r"opened with \$\$ is never closed"):
        statements("DO $$ BEGIN NULL; END;")


def test_payloads_and_snapshots_are_compressed_with_lz4_on_postgresql(pg_url):
    """Migration 0010, on the test server (built with lz4, as PostgreSQL 15 packages are)."""
    store = open_store(pg_url)
    try:
        rows = outside(
            store,
            "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace"
            " AND (c.relname, a.attname) IN (('events', 'payload'), ('robots', 'snapshot'),"
            " ('events', 'hash'))",
        )
    finally:
        store.close()
    assert sorted(rows) == [
        ("events", "hash", ""),
        ("events", "payload", "l"),
        ("robots", "snapshot", "l"),
    ]
