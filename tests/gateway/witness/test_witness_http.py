"""The witness's add-checkpoint over HTTP, as C2SP tlog-witness spells the answers.

A real uvicorn on loopback serves `create_witness_app`; a client that knows
only the spec checks each status, the 409's `text/x.tlog.size` body (the size
the witness holds, then a newline), and that a 200's body is cosignature lines
that verify against the witness key it serves at `/key`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.witness.app import create_witness_app
from gateway.witness.service import Witness
from gateway.witness.state import WitnessState
from schema.tlog.note import (
    COSIGNATURE,
    Checkpoint,
    Signer,
    Verifier,
    split_note,
    verify_cosignature,
)
from tests.gateway.witness.test_witness import LOG, ORIGIN, note, tree
from tests.support.loopback import serving

WITNESS = Signer.generate("robopass.witness/http", COSIGNATURE)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    state = WitnessState(tmp_path / "witness.db")
    witness = Witness(WITNESS, [LOG.verifier], state)
    try:
        with serving(create_witness_app(witness)) as base:
            yield base
    finally:
        state.close()


def post(url: str, old: int, proof: list[bytes], signed: str) -> httpx.Response:
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return httpx.post(url + "/add-checkpoint", content=f"old {old}\n{lines}\n{signed}".encode())


def test_the_spec_statuses_and_bodies(url: str) -> None:
    t = tree(20)
    key = Verifier.from_vkey(httpx.get(url + "/key").text)
    assert key.kind == COSIGNATURE and key.name == "robopass.witness/http"

    # a log that has never been cosigned, asked from a size the witness does not hold
    stale = post(url, 3, t.consistency_proof(3, 8), note(t, 8))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.text == "0\n"

    cosigned = post(url, 0, [], note(t, 8))
    assert cosigned.status_code == 200
    assert cosigned.text.startswith("\u2014 robopass.witness/http ")
    assert cosigned.text.endswith("\n") and cosigned.text.count("\n") == 1
    _, (line,) = split_note("x\n\n" + cosigned.text)
    assert verify_cosignature(Checkpoint(ORIGIN, 8, t.root(8)).text(), line, key) is not None

    again = post(url, 3, t.consistency_proof(3, 12), note(t, 12))
    assert (again.status_code, again.text) == (409, "8\n")
    beyond = post(url, 13, [], note(t, 12))
    assert beyond.status_code == 400
    wrong_proof = post(url, 8, t.consistency_proof(7, 12), note(t, 12))
    assert wrong_proof.status_code == 422
    forked = tree(8, fork_at=2)
    assert post(url, 8, [], note(forked, 8)).status_code == 409
    unknown = Signer.generate("other.example/log")
    assert post(url, 0, [], note(t, 8, signer=unknown)).status_code == 404
    unsigned = note(t, 8).replace("\n8\n", "\n9\n")
    assert post(url, 8, t.consistency_proof(8, 9), unsigned).status_code == 403

    assert post(url, 8, t.consistency_proof(8, 12), note(t, 12)).status_code == 200
    assert httpx.get(url + "/logs").json() == {"logs": {ORIGIN: 12}}
