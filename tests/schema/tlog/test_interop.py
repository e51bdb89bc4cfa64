"""Our trees and proofs against implementations that are not ours.

- pymerkle (PyPI), an RFC 9162 Merkle tree: the same roots for every size, and
  its own inclusion verifier accepts our proofs.
- The published vectors of the Go `golang.org/x/mod/sumdb/note` package and of
  the C2SP signed-note specification: our signer reproduces the Go signature
  byte for byte and our verifier accepts both notes.
- The RFC 6962 test vectors Certificate Transparency published with its
  reference log (eight leaves, the root of every prefix, inclusion and
  consistency proofs; the same values are in transparency-dev/merkle's proof
  tests): our tree reproduces every root and proof exactly, and our verifiers
  accept them and refuse each one with any hash changed.
"""

from __future__ import annotations

import pymerkle
import pytest

from schema.tlog.merkle import Tree, leaf_hash, verify_consistency, verify_inclusion
from schema.tlog.note import (
    COSIGNATURE,
    Checkpoint,
    NoteError,
    Signature,
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
    # a timestamp beyond 2^63 - 1 is refused, made or read
    with pytest.raises(NoteError, match="time"):
        cosign(text, witness, 2**63)
    high = cosign(text, witness, 2**63 - 1)
    assert verify_cosignature(text, high, witness.verifier) == 2**63 - 1
    body = (2**63).to_bytes(8, "big") + witness.sign(
        f"cosignature/v1\ntime {2**63}\n{text}".encode()
    )
    forged = Signature(high.name, high.key_id, body)
    assert verify_cosignature(text, forged, witness.verifier) is None
    # a log key is not a witness key, even under the witness's name
    assert verify_cosignature(text, signatures[0], witness.verifier) is None
    assert open_note(note, [log.verifier])[1] == [log.verifier]


# Certificate Transparency's RFC 6962 vectors: the leaves' data, then MTH of the first n.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index counted from 0, tree size, PATH)
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (old size, new size, PROOF)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


def _ct_tree() -> Tree:
    return Tree([leaf_hash(bytes.fromhex(d)) for d in CT_LEAVES])


def _flipped(proof: list[bytes], i: int) -> list[bytes]:
    changed = list(proof)
    changed[i] = bytes([changed[i][0] ^ 16]) + changed[i][1:]
    return changed


def test_ct_vectors_every_root() -> None:
    ours = _ct_tree()
    assert [ours.root(n).hex() for n in range(1, 9)] == CT_ROOTS


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_vectors_inclusion(index: int, size: int, path: list[str]) -> None:
    ours, proof = _ct_tree(), [bytes.fromhex(h) for h in path]
    assert ours.inclusion_proof(index, size) == proof
    leaf, root = leaf_hash(bytes.fromhex(CT_LEAVES[index])), bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(index, size, leaf, proof, root)
    for i in range(len(proof)):
        assert not verify_inclusion(index, size, leaf, _flipped(proof, i), root)
    if proof:
        assert not verify_inclusion(index, size, leaf, proof[:-1], root)
        assert not verify_inclusion(index ^ 1, size, leaf, proof, root)


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_vectors_consistency(old: int, new: int, path: list[str]) -> None:
    ours, proof = _ct_tree(), [bytes.fromhex(h) for h in path]
    assert ours.consistency_proof(old, new) == proof
    old_root, new_root = bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1])
    assert verify_consistency(old, new, old_root, new_root, proof)
    for i in range(len(proof)):
        assert not verify_consistency(old, new, old_root, new_root, _flipped(proof, i))
    if proof:
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old, new, new_root, old_root, proof)
        assert not verify_consistency(old, new, old_root, new_root, [proof[0], *proof])
