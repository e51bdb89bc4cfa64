"""`robopass registry fleet`: the synthetic fleet as NDJSON, in order, from any number of workers.

The lines are what the generator yields (content fixed by the seed, salts fresh), in index
order whatever the workers, every chain verifies, and the stream pipes straight into
`robopass registry import -`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest

from gateway.cli.registry.fleet import CHUNK_ROBOTS, fleet_lines
from gateway.store.open import open_store
from gateway.synthetic.fleet import NOW, synthetic_fleet
from schema.codec import format_datetime
from schema.events import verify
from tests.support.paths import ROOT

SALTED = ("prevHash", "hash", "salt", "commitment")  # fresh on every run, by design
SPEC = (4, "DE", "de-reg", NOW)
ROBOTS = 2 * CHUNK_ROBOTS + 7  # a short last chunk


def content(lines: bytes) -> list[dict[str, Any]]:
    """Each line with what the seed fixes: everything but the salted hashes."""
    docs = [orjson.loads(line) for line in lines.splitlines()]
    for doc in docs:
        for event in doc["events"]:
            for key in SALTED:
                event.pop(key)
    return docs


def expected(start: int, robots: int) -> list[dict[str, Any]]:
    seed, country, registry, now = SPEC
    logs = synthetic_fleet(
        robots, seed=seed, country=country, registry=registry, now=now, start=start
    )
    return [
        {
            "code": log[0].code,
            "events": [
                {
                    "code": e.code,
                    "sequence": e.sequence,
                    "at": format_datetime(e.at),
                    "type": e.type.value,
                    "payload": e.payload,
                    "scheme": e.scheme,
                }
                for e in log
            ],
        }
        for log in logs
    ]


def test_one_process_writes_the_fleet_in_order() -> None:
    lines = b"".join(fleet_lines(SPEC, 3, ROBOTS, workers=1))
    assert content(lines) == expected(3, ROBOTS)


@pytest.mark.process
def test_workers_write_the_same_lines_in_the_same_order() -> None:
    lines = b"".join(fleet_lines(SPEC, 3, ROBOTS, workers=2))
    assert content(lines) == expected(3, ROBOTS)


@pytest.mark.process
def test_fleet_pipes_into_import(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'piped.db'}"
    cli = [sys.executable, "-m", "gateway.cli", "registry"]
    fleet = subprocess.Popen(
        [*cli, "fleet", "--robots", "60", "--seed", "4", "--country", "DE", "--registry",
         "de-reg", "--workers", "2"],
        stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    imported = subprocess.run(
        [*cli, "import", "-", "--db", db, "--registry", "de-reg", "--workers", "1", "--quiet"],
        stdin=fleet.stdout, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert fleet.stdout is not None
    fleet.stdout.close()
    assert fleet.wait(timeout=60) == 0
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("60 robots added")
    generated = list(synthetic_fleet(60, seed=4, country="DE", registry="de-reg"))
    store = open_store(db, "de-reg")
    try:
        stored = [store.events(log[0].code) for log in generated]
    finally:
        store.close()
    assert all(verify(log).verified for log in stored)
    assert [[(e.sequence, e.at, e.type, e.payload) for e in log] for log in stored] == [
        [(e.sequence, e.at, e.type, e.payload) for e in log] for log in generated
    ]
