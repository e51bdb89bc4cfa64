"""Issue 6 acceptance: writers killed mid-stream lose no acknowledged event, store none twice.

Several writer processes append concurrently to the same robots; one is killed
with SIGKILL after some acknowledgements and rerun with the same idempotency
keys. Afterwards every acknowledged event is stored exactly once, as it was
acknowledged, every request is stored exactly once, and every chain verifies.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from gateway.store.open import open_store
from tests.support.paths import ROOT
from tests.support.stores import outside

pytestmark = pytest.mark.process

WRITERS = 4
EVENTS = 40
ACKS_BEFORE_KILL = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.db'}"
    return request.getfixturevalue("pg_url")


def writer(db: str, number: int, codes: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_writer", db, str(number), str(EVENTS), *codes],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acknowledged(text: str) -> dict[str, tuple[str, int, str]]:
    """key -> (code, sequence, hash) for every complete line a writer printed."""
    acks = {}
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):
            key, code, sequence, hash_ = line.split()
            acks[key] = (code, int(sequence), hash_)
    return acks


def stored(store) -> dict[str, tuple[str, int, str]]:
    """key -> (code, sequence, hash) of every stored event that carries a key."""
    hashes = {(c, e.sequence): e.hash for c in store.codes() for e in store.events(c)}
    rows = outside(store, "SELECT idempotency_key, code, sequence FROM events")
    return {key: (code, seq, hashes[code, seq]) for key, code, seq in rows if key is not None}


def test_killed_writer_rerun_with_its_keys_loses_and_repeats_nothing(db, fleet):
    store = open_store(db)
    store.import_histories(fleet[:3])
    codes = store.codes()
    before = {code: store.head(code).sequence for code in codes}

    procs = [writer(db, n, codes) for n in range(WRITERS)]
    victim = procs[0]
    lines = [victim.stdout.readline() for _ in range(ACKS_BEFORE_KILL)]
    victim.send_signal(signal.SIGKILL)
    rest, _ = victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    acks = acknowledged("".join(lines) + rest)
    assert len(acks) < EVENTS, "the victim finished before it was killed"
    for proc in procs[1:]:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        acks |= acknowledged(out)

    rerun = writer(db, 0, codes)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    again = acknowledged(out)
    assert len(again) == EVENTS
    for key, ack in again.items():
        if key in acks:
            assert ack == acks[key], f"retried {key} answered differently"
    acks |= again

    keyed = stored(store)
    assert keyed == acks
    assert len(keyed) == WRITERS * EVENTS
    for code in codes:
        assert store.verify_chain(code).verified
        appended = sum(1 for c, _, _ in keyed.values() if c == code)
        assert store.head(code).sequence == before[code] + appended
    store.close()
