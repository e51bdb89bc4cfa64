"""The witness's add-checkpoint decisions, on a real SQLite state file."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest

from gateway.witness.service import Refusal, Witness
from gateway.witness.state import WitnessState
from schema.tlog.merkle import Tree, leaf_hash
from schema.tlog.note import (
    COSIGNATURE,
    Checkpoint,
    Signer,
    sign_note,
    split_note,
    verify_cosignature,
)

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
