"""Merkle tree hashing, inclusion and consistency proofs as RFC 9162 (and 6962) define them.

A leaf hash is SHA-256(0x00 || data) and an interior node SHA-256(0x01 || left
|| right); the tree over n leaves splits at the largest power of two below n.
This is the hashing Certificate Transparency, the Go checksum database and
Sigstore use, so their tools read our proofs. `Tree` keeps the leaf hashes of
a log that only grows and remembers the hash of every complete subtree once
computed (they never change), so a root or a proof over a large log costs a
few dozen hashes rather than a pass over every leaf.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step; they
take only sizes, hashes and the proof, never a tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "Tree",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class Tree:
    """The leaf hashes of an append-only log, with the roots and proofs of any prefix."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self._leaves: list[bytes] = []
        self._complete: dict[tuple[int, int], bytes] = {}
        self.extend(leaves)

    def __len__(self) -> int:
        return len(self._leaves)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (32 bytes) at the end."""
        if len(leaf) != 32:
            raise ValueError("a leaf hash is 32 bytes")
        self._leaves.append(leaf)

    def extend(self, leaves: Sequence[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def leaf(self, index: int) -> bytes:
        return self._leaves[index]

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (all of them by default)."""
        size = len(self) if size is None else size
        self._check_size(size)
        return self._hash(0, size)

    def subtree(self, start: int, size: int) -> bytes:
        """MTH(D[start:start + size]) of leaves already in the log (a tile's hash)."""
        if start < 0 or size < 1 or start + size > len(self):
            raise ValueError(f"leaves {start}..{start + size} are beyond the log's {len(self)}")
        return self._hash(start, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]): the sibling hashes from the leaf up to the root."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not below tree size {size}")
        return self._path(index, 0, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """PROOF(old, D[0:new]): shows the tree of size `old` is a prefix of size `new`."""
        new = len(self) if new is None else new
        self._check_size(new)
        if not 0 <= old <= new:
            raise ValueError(f"old size {old} is not between 0 and new size {new}")
        if old in (0, new):
            return []
        return self._subproof(old, 0, new, complete=True)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self):
            raise ValueError(f"tree size {size} is beyond the log's {len(self)} leaves")

    def _hash(self, start: int, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        if size == 1:
            return self._leaves[start]
        perfect = size & (size - 1) == 0
        if perfect:
            known = self._complete.get((start, size))
            if known is not None:
                return known
        k = _split(size)
        value = node_hash(self._hash(start, k), self._hash(start + k, size - k))
        if perfect:
            self._complete[(start, size)] = value
        return value

    def _path(self, index: int, start: int, size: int) -> list[bytes]:
        if size == 1:
            return []
        k = _split(size)
        if index < k:
            return [*self._path(index, start, k), self._hash(start + k, size - k)]
        return [*self._path(index - k, start + k, size - k), self._hash(start, k)]

    def _subproof(self, old: int, start: int, size: int, *, complete: bool) -> list[bytes]:
        if old == size:
            return [] if complete else [self._hash(start, size)]
        k = _split(size)
        if old <= k:
            left = self._subproof(old, start, k, complete=complete)
            return [*left, self._hash(start + k, size - k)]
        return [
            *self._subproof(old - k, start + k, size - k, complete=False),
            self._hash(start, k),
        ]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: is `leaf` at `index` of the tree of `size` leaves whose root is `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is tree (`old_size`, `old_root`) a prefix of (`new_size`, `new_root`)?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
