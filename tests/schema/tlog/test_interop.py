"""Our trees and proofs against implementations that are not ours.

- pymerkle (PyPI), an RFC 9162 Merkle tree: the same roots for every size, and
  its own inclusion verifier accepts our proofs.
- The published vectors of the Go `golang.org/x/mod/sumdb/note` package and of
  the C2SP signed-note specification: our signer reproduces the Go signature
  byte for byte and our verifier accepts both notes.
"""

from __future__ import annotations

import pymerkle
import pytest

from schema.tlog.merkle import Tree, leaf_hash, verify_consistency
from schema.tlog.note import (
    COSIGNATURE,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    cosign,
    open_note,
    sign_note,
    split_note,
    verify_cosignature,
)

# golang.org/x/mod/sumdb/note, its package documentation's example keys and note.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# c2sp.org/signed-note, its example.
SPEC_VERIFIER = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def _pymerkle(data: list[bytes]) -> pymerkle.InmemoryTree:
    other = pymerkle.InmemoryTree(algorithm="sha256")
    for item in data:
        other.append_entry(item)
    return other


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 21, 34, 55, 64, 100])
def test_roots_match_pymerkle_for_every_prefix(size: int) -> None:
    data = [f"event {i}".encode() for i in range(size)]
    ours = Tree([leaf_hash(d) for d in data])
    theirs = _pymerkle(data)
    for prefix in range(1, size + 1):
        assert ours.root(prefix) == theirs.get_root(prefix)


@pytest.mark.parametrize("size", [1, 2, 6, 7, 16, 17, 50])
def test_pymerkle_verifies_our_inclusion_proofs(size: int) -> None:
    data = [f"event {i}".encode() for i in range(size)]
    ours = Tree([leaf_hash(d) for d in data])
    theirs = _pymerkle(data)
    root = theirs.get_root(size)
    for index in range(size):
        layout = theirs.prove_inclusion(index + 1, size)  # pymerkle counts from one
        proof = pymerkle.InclusionProof(
            "sha256",
            True,
            size,
            index + 1,
            layout.rule,
            [ours.leaf(index), *ours.inclusion_proof(index)],
        )
        pymerkle.verify_inclusion(ours.leaf(index), root, proof)
        wrong = pymerkle.InclusionProof(
            "sha256", True, size, index + 1, layout.rule,
            [ours.leaf(index), *ours.inclusion_proof(index)[::-1]],
        )  # fmt: skip
        if len(layout.rule) > 2:
            with pytest.raises(pymerkle.InvalidProof):
                pymerkle.verify_inclusion(ours.leaf(index), root, wrong)


@pytest.mark.parametrize("size", [3, 9, 40])
def test_our_consistency_proofs_join_pymerkle_roots(size: int) -> None:
    data = [f"event {i}".encode() for i in range(size)]
    ours = Tree([leaf_hash(d) for d in data])
    theirs = _pymerkle(data)
    for old in range(1, size):
        proof = ours.consistency_proof(old, size)
        assert verify_consistency(old, size, theirs.get_root(old), theirs.get_root(size), proof)


def test_go_note_vector_is_reproduced_byte_for_byte() -> None:
    signer = Signer.from_skey(GO_SIGNER)
    assert signer.verifier.vkey() == GO_VERIFIER
    assert signer.skey() == GO_SIGNER
    assert sign_note(GO_TEXT, [signer]) == GO_TEXT + "\n" + GO_SIGNATURE
    text, signed = open_note(GO_TEXT + "\n" + GO_SIGNATURE, [Verifier.from_vkey(GO_VERIFIER)])
    assert text == GO_TEXT and [v.name for v in signed] == ["PeterNeumann"]


def test_spec_note_vector_verifies_and_a_changed_text_does_not() -> None:
    verifier = Verifier.from_vkey(SPEC_VERIFIER)
    assert open_note(SPEC_NOTE, [verifier])[0] == "This is an example message.\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(SPEC_NOTE.replace("example message", "exemplary message"), [verifier])
    with pytest.raises(NoteError, match="ID"):
        Verifier.from_vkey(SPEC_VERIFIER.replace("+530d903a+", "+530d903b+"))


def test_cosignature_v1_binds_the_checkpoint_and_the_time() -> None:
    log = Signer.generate("example.org/log")
    witness = Signer.generate("example.org/witness", COSIGNATURE)
    text = Checkpoint("example.org/log", 3, bytes(range(32))).text()
    note = sign_note(text, [log]) + cosign(text, witness, 1_700_000_000).line()
    _, signatures = split_note(note)
    assert verify_cosignature(text, signatures[1], witness.verifier) == 1_700_000_000
    assert (
        verify_cosignature(text.replace("\n3\n", "\n4\n"), signatures[1], witness.verifier) is None
    )
    # a log key is not a witness key, even under the witness's name
    assert verify_cosignature(text, signatures[0], witness.verifier) is None
    assert open_note(note, [log.verifier])[1] == [log.verifier]
