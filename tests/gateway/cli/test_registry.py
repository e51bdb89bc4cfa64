"""The registry commands of the CLI."""

from __future__ import annotations

import sqlite3

import pytest

from gateway.cli.main import main
from gateway.store.open import sqlite_path


def test_seed_then_verify_then_tamper(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'fleet.db'}"
    assert main(["registry", "seed", "--robots", "12", "--db", db, "--seed", "3"]) == 0
    assert "12 robots added; 12 in" in capsys.readouterr().out
    assert main(["registry", "seed", "--robots", "15", "--db", db, "--seed", "3"]) == 0
    assert "3 robots added; 15 in" in capsys.readouterr().out
    assert main(["registry", "verify", "--db", db]) == 0
    assert "15 of 15 chains verified" in capsys.readouterr().out
    conn = sqlite3.connect(sqlite_path(db))
    code = conn.execute("SELECT code FROM robots ORDER BY code LIMIT 1").fetchone()[0]
    conn.execute(
        "UPDATE events SET at = '2020-01-01T00:00:00Z' WHERE code = ? AND sequence = 3", (code,)
    )
    conn.commit()
    conn.close()
    assert main(["registry", "verify", "--db", db]) == 1
    out = capsys.readouterr().out
    assert f"{code}: BROKEN at sequence 3" in out
    assert "14 of 15 chains verified" in out


def test_unsupported_database_url_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unsupported database URL"):
        main(["registry", "seed", "--robots", "1", "--db", "mysql://x"])


def test_seed_verify_and_export_on_postgresql(pg_url, tmp_path, capsys):
    import psycopg

    assert main(["registry", "seed", "--robots", "8", "--db", pg_url, "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "8 robots added; 8 in postgresql://" in out
    assert main(["registry", "verify", "--db", pg_url]) == 0
    assert "8 of 8 chains verified" in capsys.readouterr().out
    with psycopg.connect(pg_url, autocommit=True) as conn:
        code = conn.execute("SELECT code FROM robots ORDER BY code LIMIT 1").fetchone()[0]
        conn.execute("UPDATE events SET hash = 'x' WHERE code = %s AND sequence = 2", (code,))
    assert main(["registry", "verify", "--db", pg_url]) == 1
    assert f"{code}: BROKEN at sequence 2" in capsys.readouterr().out
    export = ["export", code, "--format", "canonical", "--db", pg_url]
    assert main([*export, "--data-dir", str(tmp_path)]) == 0
    assert code in capsys.readouterr().out


def test_unreachable_postgresql_is_a_clear_error():
    db = "postgresql://nobody@127.0.0.1:1/x?connect_timeout=2"
    with pytest.raises(SystemExit, match="robopass: cannot connect to PostgreSQL"):
        main(["registry", "verify", "--db", db])


def test_open_store_raises_the_stores_own_errors_not_an_exit():
    """Only the CLI turns these into a message and an exit status."""
    from gateway.store.base import StoreError
    from gateway.store.open import StoreUrlError, open_store

    with pytest.raises(StoreUrlError, match="unsupported database URL scheme 'mysql'"):
        open_store("mysql://x")
    assert issubclass(StoreUrlError, StoreError)
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        open_store("postgresql://nobody@127.0.0.1:1/x?connect_timeout=2")
