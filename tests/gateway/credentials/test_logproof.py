"""Offline log proofs of signed passports: each check fails on its own and is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.credentials.logproof import InvalidLogProof, LogProof, check
from gateway.service.transparency import EventLog
from gateway.store import SqliteStore
from schema.events import Event
from schema.tlog.note import COSIGNATURE, Checkpoint, Signer, cosign, split_note

ORIGIN = "robopass.registry/cn-heis/events"


@pytest.fixture
def logged(tmp_path: Path, fleet: list[list[Event]]):
    store = SqliteStore(tmp_path / "node.db")
    store.import_histories(fleet[:10])
    log = EventLog(store, Signer.generate(ORIGIN))
    yield store, log
    store.close()


def bundle(
    store: SqliteStore, log: EventLog, witness: Signer | None = None
) -> tuple[LogProof, dict]:
    code = store.codes()[0]
    head = store.head(code)
    note = log.checkpoint()
    text, _ = split_note(note)
    if witness is not None:
        note += cosign(text, witness, 1_800_000_000).line()
    size = Checkpoint.parse(text).size
    inclusion = log.inclusion(code, head.sequence, size)
    proof = LogProof(
        code, head.sequence, head.hash, inclusion.commitment, inclusion.index, size,
        inclusion.hashes, note,
    )  # fmt: skip
    claims = {
        "credentialSubject": {"robotCode": code},
        "robotVersion": {"sequence": head.sequence, "hash": head.hash},
    }
    return proof, claims


def test_a_whole_bundle_passes_every_check_and_round_trips(logged) -> None:
    store, log = logged
    witness = Signer.generate("witness.test/w1", COSIGNATURE)
    proof, claims = bundle(store, log, witness)
    again = LogProof.from_json(proof.to_json())
    checked = check(again, claims, log.signer.verifier, [witness.verifier])
    assert (checked.origin, checked.size, checked.witnesses) == (
        ORIGIN,
        len(log._tree),
        ["witness.test/w1"],
    )


def test_each_check_is_named_when_it_fails(logged) -> None:
    store, log = logged
    witness = Signer.generate("witness.test/w1", COSIGNATURE)
    proof, claims = bundle(store, log, witness)
    key, witnesses = log.signer.verifier, [witness.verifier]

    def failed(p: LogProof, c: dict = claims, w: list = witnesses) -> str:
        with pytest.raises(InvalidLogProof) as refused:
            check(p, c, key, w)
        return refused.value.check

    older = {**claims, "robotVersion": {"sequence": proof.sequence - 1, "hash": proof.hash}}
    assert failed(proof, older) == "version"
    forged = proof.checkpoint.replace(f"\n{proof.size}\n", f"\n{proof.size + 1}\n")
    assert failed(LogProof(**{**_fields(proof), "checkpoint": forged})) == "checkpoint"
    assert failed(LogProof(**{**_fields(proof), "commitment": "0" * 64})) == "inclusion"
    assert failed(LogProof(**{**_fields(proof), "index": proof.index + 1})) == "inclusion"
    stranger = Signer.generate("witness.test/w2", COSIGNATURE)
    assert failed(proof, claims, [*witnesses, stranger.verifier]) == "witness"
    with pytest.raises(InvalidLogProof, match="malformed"):
        LogProof.from_json({**proof.to_json(), "inclusion": ["not base64!"]})


def _fields(proof: LogProof) -> dict:
    return {name: getattr(proof, name) for name in LogProof.__slots__}
