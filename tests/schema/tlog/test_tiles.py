"""The tlog-tiles layout against the specification's own statements and examples.

The C2SP text gives index 1234067 as `x001/x234/067`; says a tree of 70,000
leaves is 273 full level-0 tiles, a partial level-0 tile of width 112, one
full level-1 tile, a partial level-1 tile of width 17 and a partial level-2
tile of width 1; that a tree of 256 is a full level-0 tile and a partial
level-1 tile of width 1; and defines the n-th tile at level l as
MTH(D[(n * 256 + i) * 256**l : (n * 256 + i + 1) * 256**l]) for i < 256. Each
is checked here, the subtree hashes against pymerkle (not ours), each over
the entries of that range alone.
"""

from __future__ import annotations

import struct

import pymerkle
import pytest

from schema.tlog.merkle import Tree, leaf_hash
from schema.tlog.tiles import (
    BadTilePath,
    TileRef,
    available,
    entry_bundle,
    parse_tile_path,
    tile_bytes,
)

SIZE = 70_000
DATA = [b"entry %d" % i for i in range(SIZE)]


@pytest.fixture(scope="module")
def tree() -> Tree:
    return Tree([leaf_hash(d) for d in DATA])


def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) from pymerkle, over those entries alone."""
    other = pymerkle.InmemoryTree(algorithm="sha256")
    for item in DATA[start:end]:
        other.append_entry(item)
    return other.get_root()


def tiles_of(size: int) -> list[TileRef]:
    """Every tile a tree of `size` is made of, by the spec's rule: floor(size / 256**(l+1))
    full tiles at level l and one partial of floor(size / 256**l) mod 256, if not empty."""
    found, level = [], 0
    while size // 256**level:
        full, width = size // 256 ** (level + 1), size // 256**level % 256
        found += [TileRef(level, n, 256) for n in range(full)]
        if width:
            found.append(TileRef(level, full, width))
        level += 1
    return found


def test_the_spec_example_index_path() -> None:
    ref = TileRef(0, 1234067, 256)
    assert ref.path() == "tile/0/x001/x234/067"
    assert parse_tile_path("0/x001/x234/067") == ref
    assert TileRef(3, 5, 17).path() == "tile/3/005.p/17"
    assert parse_tile_path("entries/x001/000.p/255") == TileRef(None, 1000, 255)


def test_the_spec_examples_of_tree_shapes() -> None:
    shape = tiles_of(SIZE)
    assert sum(1 for t in shape if t.level == 0 and not t.partial) == 273
    partial = sorted((t.level, t.index, t.width) for t in shape if t.partial)
    assert partial == [(0, 273, 112), (1, 1, 17), (2, 0, 1)]
    assert [t for t in shape if t.level == 1 and not t.partial] == [TileRef(1, 0, 256)]
    assert tiles_of(256) == [TileRef(0, 0, 256), TileRef(1, 0, 1)]


def test_available_holds_exactly_the_tiles_a_size_has() -> None:
    for ref in tiles_of(SIZE):
        assert available(ref, SIZE), ref
    beyond = [TileRef(0, 273, 113), TileRef(0, 273, 256), TileRef(1, 1, 18), TileRef(1, 1, 256)]
    beyond += [TileRef(2, 0, 2), TileRef(2, 0, 256), TileRef(3, 0, 1)]
    for ref in beyond:
        assert not available(ref, SIZE), ref
    # older checkpoints' partial tiles stay available
    assert available(TileRef(0, 273, 1), SIZE) and available(TileRef(1, 1, 16), SIZE)


def test_tile_hashes_are_the_spec_subtree_hashes(tree: Tree) -> None:
    full0 = tile_bytes(tree, TileRef(0, 272, 256))
    assert len(full0) == 256 * 32
    assert full0[:32] == leaf_hash(DATA[272 * 256])
    level1 = tile_bytes(tree, TileRef(1, 1, 17))
    assert len(level1) == 17 * 32
    for i in (0, 7, 16):
        start = (256 + i) * 256
        assert level1[i * 32 : (i + 1) * 32] == mth(start, start + 256)
    assert tile_bytes(tree, TileRef(2, 0, 1)) == mth(0, 256**2)
    # "each hash in a tile is the Merkle Tree Hash of a full tile at the level below"
    level0 = tile_bytes(tree, TileRef(0, 5, 256))
    assert tile_bytes(tree, TileRef(1, 0, 256))[5 * 32 : 6 * 32] == mth(1280, 1536)
    assert Tree([level0[i : i + 32] for i in range(0, len(level0), 32)]).root() == mth(1280, 1536)


def test_bundles_are_uint16_length_prefixed() -> None:
    entries = [b"", b"a", bytes(300)]
    bundle = entry_bundle(entries)
    assert bundle == b"\x00\x00" + b"\x00\x01a" + struct.pack(">H", 300) + bytes(300)
    with pytest.raises(ValueError, match="does not fit"):
        entry_bundle([bytes(0x10000)])


@pytest.mark.parametrize(
    "bad", ["0/1234", "0/x1/234", "01/000", "64/000", "0/000.p/0", "0/000.p/256", "0/000.p/01",
            "entries", "0/X001/000", "0/001/x000"],
)  # fmt: skip
def test_paths_the_layout_does_not_spell_are_refused(bad: str) -> None:
    with pytest.raises(BadTilePath):
        parse_tile_path(bad)
