"""RFC 9162 trees and proofs: every prefix, every leaf, and what a wrong proof does."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema.tlog.merkle import (
    EMPTY_ROOT,
    Tree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def tree(n: int) -> Tree:
    return Tree([leaf_hash(f"leaf {i}".encode()) for i in range(n)])


def test_hashing_is_domain_separated_as_rfc_6962_says() -> None:
    assert leaf_hash(b"a") == hashlib.sha256(b"\x00a").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert Tree().root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_root_splits_at_the_largest_power_of_two_below_the_size() -> None:
    t = tree(5)
    a, b, c, d, e = (t.leaf(i) for i in range(5))
    assert t.root(1) == a
    assert t.root(3) == node_hash(node_hash(a, b), c)
    assert t.root(5) == node_hash(node_hash(node_hash(a, b), node_hash(c, d)), e)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 31, 64, 65])
def test_every_inclusion_proof_verifies_and_no_other_leaf_does(size: int) -> None:
    t = tree(size)
    root = t.root()
    for index in range(size):
        proof = t.inclusion_proof(index)
        assert verify_inclusion(index, size, t.leaf(index), proof, root)
        other = t.leaf((index + 1) % size)
        if size > 1:
            assert not verify_inclusion(index, size, other, proof, root)
        if size > 1:
            assert not verify_inclusion((index + 1) % size, size, t.leaf(index), proof, root)
        assert not verify_inclusion(
            index, size, t.leaf(index), proof, t.root(size - 1) if size > 1 else bytes(32)
        )


@pytest.mark.parametrize("size", [2, 3, 7, 8, 13, 32, 33])
def test_every_consistency_proof_verifies_and_a_forked_tree_does_not(size: int) -> None:
    t = tree(size)
    for old in range(size + 1):
        proof = t.consistency_proof(old, size)
        assert verify_consistency(old, size, t.root(old), t.root(size), proof)
    forked = Tree([*(t.leaf(i) for i in range(size - 1)), leaf_hash(b"rewritten")])
    for old in range(1, size):
        proof = forked.consistency_proof(old, size)
        assert verify_consistency(old, size, forked.root(old), forked.root(size), proof)
        # the fork's proof cannot join the honest old root to the fork's new root
        # unless the old tree is all before the rewritten leaf
        joins = verify_consistency(old, size, t.root(old), forked.root(size), proof)
        assert joins == (old <= size - 1)
        assert not verify_consistency(old, size, t.root(old), t.root(size), proof)


def test_a_rewritten_leaf_breaks_consistency_from_any_size_that_covers_it() -> None:
    honest = tree(20)
    leaves = [honest.leaf(i) for i in range(20)]
    leaves[4] = leaf_hash(b"rewritten")
    rewritten = Tree([*leaves, leaf_hash(b"more")])
    for old in range(5, 21):
        proof = rewritten.consistency_proof(old)
        assert not verify_consistency(old, 21, honest.root(old), rewritten.root(), proof)


@given(st.integers(1, 300), st.data())
def test_proofs_for_random_sizes(size: int, data: st.DataObject) -> None:
    t = tree(size)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    assert verify_inclusion(index, size, t.leaf(index), t.inclusion_proof(index), t.root())
    proof = t.consistency_proof(old)
    assert verify_consistency(old, size, t.root(old), t.root(), proof)
    if proof:
        bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not verify_consistency(old, size, t.root(old), t.root(), bent)


def test_sizes_out_of_range_are_refused() -> None:
    t = tree(4)
    with pytest.raises(ValueError, match="beyond"):
        t.root(5)
    with pytest.raises(ValueError, match="not below"):
        t.inclusion_proof(4)
    with pytest.raises(ValueError, match="between"):
        t.consistency_proof(3, 2)
    with pytest.raises(ValueError, match="32 bytes"):
        t.append(b"short")
    assert not verify_inclusion(4, 4, t.leaf(0), [], t.root())
    assert not verify_consistency(3, 2, t.root(3), t.root(2), [])
    assert not verify_consistency(2, 2, t.root(2), t.root(3), [])
