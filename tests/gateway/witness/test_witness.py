"""The witness's add-checkpoint decisions, on a real SQLite state file, and the same
over HTTP as C2SP tlog-witness spells the answers."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.witness.app import create_witness_app
from gateway.witness.service import Refusal, Witness
from gateway.witness.state import WitnessState
from schema.tlog.merkle import Tree, leaf_hash
from schema.tlog.note import (
    COSIGNATURE,
    Checkpoint,
    Signer,
    Verifier,
    sign_note,
    split_note,
    verify_cosignature,
)
from tests.support.loopback import serving

ORIGIN = "robopass.registry/test/events"
LOG = Signer.generate(ORIGIN)
WITNESS = Signer.generate("robopass.witness/test", COSIGNATURE)


def tree(n: int, fork_at: int | None = None) -> Tree:
    return Tree([leaf_hash(f"{'fork' if i == fork_at else 'leaf'} {i}".encode()) for i in range(n)])


def note(t: Tree, size: int | None = None, signer: Signer = LOG) -> str:
    size = len(t) if size is None else size
    return sign_note(Checkpoint(signer.name, size, t.root(size)).text(), [signer])


def body(old: int, proof: list[bytes], signed: str) -> bytes:
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{signed}".encode()


def add(witness: Witness, t: Tree, old: int, size: int | None = None) -> str:
    size = len(t) if size is None else size
    return witness.add_checkpoint(body(old, t.consistency_proof(old, size), note(t, size)))


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    return Witness(WITNESS, [LOG.verifier], WitnessState(tmp_path / "witness.db"))


def status(witness: Witness, raw: bytes) -> tuple[int, int | None]:
    with pytest.raises(Refusal) as refused:
        witness.add_checkpoint(raw)
    return refused.value.status, refused.value.size


def test_cosigns_a_growing_log_and_the_cosignature_verifies(witness: Witness) -> None:
    t = tree(10)
    line = add(witness, t, 0, 4)
    text = Checkpoint(ORIGIN, 4, t.root(4)).text()
    _, (signature,) = split_note("x\n\n" + line)
    assert verify_cosignature(text, signature, WITNESS.verifier) is not None
    add(witness, t, 4, 10)
    assert witness.state.latest(ORIGIN).size == 10


def test_refuses_a_fork_and_keeps_the_evidence(witness: Witness) -> None:
    honest, forked = tree(10), tree(12, fork_at=3)
    add(witness, honest, 0)
    # the fork's own proof from 10 does not join the cosigned root
    assert status(witness, body(10, forked.consistency_proof(10), note(forked))) == (422, None)
    # another root for the size already cosigned
    assert status(witness, body(10, [], note(forked, 10))) == (409, 10)
    assert witness.state.latest(ORIGIN).root == honest.root()
    assert [reason for _, reason, _ in witness.state.refused(ORIGIN)] == [
        "no proof that the cosigned tree of size 10 is a prefix of this one",
        "another root for size 10 was cosigned before",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"old x\n\n", 400),
        (b"old 0\n", 400),
        (b"old 00\n\n" + note(tree(1)).encode(), 400),
        (b"old 0\n!!\n\n" + note(tree(1)).encode(), 400),
        (b"old 0\n\n" + note(tree(1), signer=Signer.generate("other.example/log")).encode(), 404),
        (b"old 0\n\n" + note(tree(1)).replace("\n1\n", "\n2\n").encode(), 403),
        # old beyond the checkpoint is malformed (400) before it is stale (409)
        (b"old 5\n\n" + note(tree(1)).encode(), 400),
        (b"old 2\n\n" + note(tree(3)).encode(), 409),
        # sizes are ASCII decimals: int() would read other scripts' digits
        ("old \u0661\n\n".encode() + note(tree(1)).encode(), 400),
        ("old \u00b2\n\n".encode() + note(tree(1)).encode(), 400),
        (b"old 0\n\n" + note(tree(1)).replace("\n1\n", "\n\u0661\n").encode(), 400),
        # a log signature over more than the checkpoint: the signed text has an empty line
        (
            b"old 0\n\n"
            + sign_note(Checkpoint(ORIGIN, 1, tree(1).root()).text() + "\nx\n", [LOG]).encode(),
            400,
        ),
        # from 0 the proof is empty
        (b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\n" + note(tree(1)).encode(), 422),
    ],
)
def test_malformed_unknown_unsigned_and_stale_requests(
    witness: Witness, raw: bytes, expected: int
) -> None:
    assert status(witness, raw)[0] == expected
    assert witness.state.latest(ORIGIN) is None


def test_state_survives_reopening(tmp_path: Path) -> None:
    t = tree(8)
    first = Witness(WITNESS, [LOG.verifier], WitnessState(tmp_path / "w.db"))
    add(first, t, 0, 5)
    first.state.close()
    again = Witness(WITNESS, [LOG.verifier], WitnessState(tmp_path / "w.db"))
    assert status(again, body(0, [], note(t, 8))) == (409, 5)
    add(again, t, 5, 8)


def test_two_racing_views_cannot_both_be_cosigned(witness: Witness) -> None:
    honest, forked = tree(6), tree(6, fork_at=5)
    add(witness, honest, 0, 5)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def submit(t: Tree) -> None:
        barrier.wait()
        try:
            results.append(add(witness, t, 5, 6))
        except Refusal as refusal:
            results.append(refusal.status)

    threads = [threading.Thread(target=submit, args=(t,)) for t in (honest, forked)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(isinstance(r, str) for r in results) == [False, True]
    assert witness.state.latest(ORIGIN).size == 6


HTTP_WITNESS = Signer.generate("robopass.witness/http", COSIGNATURE)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    state = WitnessState(tmp_path / "witness.db")
    witness = Witness(HTTP_WITNESS, [LOG.verifier], state)
    try:
        with serving(create_witness_app(witness)) as base:
            yield base
    finally:
        state.close()


def post(url: str, old: int, proof: list[bytes], signed: str) -> httpx.Response:
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return httpx.post(url + "/add-checkpoint", content=f"old {old}\n{lines}\n{signed}".encode())


def test_over_http_the_spec_statuses_and_bodies(url: str) -> None:
    """A real uvicorn on loopback; a client that knows only the spec checks each status,
    the 409's `text/x.tlog.size` body (the size held, a newline, no charset on the type)
    and that a 200's body is one cosignature line that verifies with the `/key` served."""
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
