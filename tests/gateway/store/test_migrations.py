"""Migration files: naming, order, splitting, and the refusal of a newer database."""

from __future__ import annotations

import pytest

from gateway.store.migrations import MigrationError, available, check_supported, parse, statements


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
