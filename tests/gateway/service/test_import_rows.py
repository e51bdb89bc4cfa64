"""What an import stores is pinned, byte for byte: the rows checked lines become.

The digests were taken with the code before the import's fold and encoding were
made cheaper (main at 08ac80a): the joint-wear readings decoded inline, each
payload's canonical JSON made once for its commitment and its row. A change that
alters one stored byte (a payload's text, a snapshot, a hash) fails here. The
chained file's third robot carries payloads not in canonical form (whole numbers
where floats are declared, times with an offset), which are stored as sent while
its snapshot holds them normalized. The rows travel to the store as lines of
`COPY` text (`gateway.store.copytext`); the rows digested here are those lines
read back, and tests/gateway/store/test_copytext.py reads the same back from both
databases.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from gateway.service.importing import parse_line
from gateway.store.bulk import Incoming
from gateway.store.sql import event_row, robot_row
from schema.events import fold, verify
from tests.support.paths import ROOT

CHAINED = ROOT / "tests" / "data" / "import-three-chained.ndjson"
FRESH = ROOT / "samples" / "import" / "three-robots.ndjson"  # passports chained afresh
CHAINED_DIGEST = "8ee540795e59ee4f96d0aee031a93f371a381a886efa57631fce87688edcc6cf"
FRESH_DIGEST = "e01da967fcc03ccd27baa34f54faf34f014b0c473d057713f10c404e87dca2e7"
HEAD_HASH = 6  # of sql.ROBOT_ROW


def checked(path: Path) -> list[Incoming]:
    items = [parse_line(str(path), n, line) for n, line in enumerate(path.open("rb"), 1)]
    assert all(isinstance(item, Incoming) for item in items), items
    return items  # type: ignore[return-value]


def digest(items: list[Incoming], *, hashes: bool = True) -> str:
    """SHA-256 over the rows; without `hashes`, over what fresh salts leave unchanged."""
    total = hashlib.sha256()
    for item in items:
        for row in item.event_rows:
            total.update(orjson.dumps(row if hashes else row[:5]))
        robot = item.robot_row
        total.update(orjson.dumps(robot if hashes else robot[:HEAD_HASH] + robot[HEAD_HASH + 1 :]))
    return total.hexdigest()


def test_a_chained_file_becomes_the_pinned_rows() -> None:
    assert digest(checked(CHAINED)) == CHAINED_DIGEST


def test_passports_chained_afresh_become_the_pinned_payloads_and_snapshots() -> None:
    items = checked(FRESH)
    assert digest(items, hashes=False) == FRESH_DIGEST
    assert all(verify(item.events).verified for item in items)


def test_the_rows_are_the_stores_own_encoding_of_the_log_and_its_fold() -> None:
    """As a live append encodes them: each payload by itself, the snapshot by `fold`."""
    for item in checked(CHAINED) + checked(FRESH):
        events = item.events
        assert item.event_rows == tuple(event_row(e, "", None)[:10] for e in events)
        passport = fold(events)
        assert passport is not None
        assert item.robot_row == robot_row(passport, events[-1], None)
