"""The C2SP tlog-tiles layout of a log: which tile a path names and what it holds.

A client of a tiled log needs no proof API: it fetches the checkpoint and the
tiles (runs of 256 Merkle tree hashes at levels 0, 8, 16, ... of the tree) and
computes any inclusion or consistency proof itself, and it fetches the entries
in bundles to hash them against level 0. This module is the layout's pure
part: parsing and naming paths (`<L>/<N>[.p/<W>]`, `entries/<N>[.p/<W>]`, N in
zero-padded three-digit segments of which all but the last start with `x`),
which tiles a tree of a given size has, and a tile's bytes from a `Tree`.
Serving is the node's (`gateway.node.tlog`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .merkle import Tree

__all__ = [
    "TILE_WIDTH",
    "BadTilePath",
    "TileRef",
    "available",
    "entry_bundle",
    "parse_tile_path",
    "tile_bytes",
]

TILE_WIDTH = 256
MAX_LEVEL = 63
_SEGMENT = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_DECIMAL = re.compile(r"[1-9][0-9]*|0")


class BadTilePath(ValueError):
    """A path that does not name a tile in the tlog-tiles layout."""


@dataclass(frozen=True, slots=True)
class TileRef:
    """One tile: `level` None for an entry bundle; `width` 256 for a full tile."""

    level: int | None
    index: int
    width: int

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    def leaves(self) -> tuple[int, int]:
        """The entries this tile's hashes span, [start, end) (level 0 for bundles)."""
        span = TILE_WIDTH ** (self.level or 0)
        start = self.index * TILE_WIDTH * span
        return start, start + self.width * span

    def path(self) -> str:
        """The tile's path under the log's prefix, as a client asks for it."""
        digits = f"{self.index:03d}"
        groups = [digits[max(0, i - 3) : i] for i in range(len(digits), 0, -3)][::-1]
        groups = [g.rjust(3, "0") for g in groups]
        index = "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])
        level = "entries" if self.level is None else str(self.level)
        suffix = f".p/{self.width}" if self.partial else ""
        return f"tile/{level}/{index}{suffix}"


def parse_tile_path(path: str) -> TileRef:
    """The tile `path` (after `tile/`) names; `BadTilePath` saying what is wrong."""
    parts = path.split("/")
    width = TILE_WIDTH
    if len(parts) >= 3 and parts[-2].endswith(".p"):
        if not _DECIMAL.fullmatch(parts[-1]) or not 1 <= int(parts[-1]) < TILE_WIDTH:
            raise BadTilePath(f"a partial tile's width is 1 to 255, no leading zeros: {path!r}")
        width = int(parts[-1])
        parts = [*parts[:-2], parts[-2][: -len(".p")]]
    if len(parts) < 2:
        raise BadTilePath(f"a tile path is <level>/<index> or entries/<index>: {path!r}")
    head, *index_parts = parts
    level: int | None
    if head == "entries":
        level = None
    elif _DECIMAL.fullmatch(head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise BadTilePath(f"a tile level is 0 to 63 with no leading zeros, or entries: {path!r}")
    *upper, last = index_parts
    if not all(_SEGMENT.fullmatch(p) for p in upper) or not _LAST.fullmatch(last):
        raise BadTilePath(
            f"a tile index is three-digit groups, all but the last led by x: {path!r}"
        )
    index = int("".join([*(p[1:] for p in upper), last]))
    return TileRef(level, index, width)


def available(ref: TileRef, size: int) -> bool:
    """Does a tree of `size` leaves hold every hash (or entry) of `ref`?"""
    return ref.leaves()[1] <= size


def tile_bytes(tree: Tree, ref: TileRef) -> bytes:
    """The tile's hashes, concatenated: each the root of a complete subtree of
    256**level leaves (level 0: the leaf hashes)."""
    assert ref.level is not None
    span = TILE_WIDTH**ref.level
    first = ref.index * TILE_WIDTH
    return b"".join(tree.subtree((first + i) * span, span) for i in range(ref.width))


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a bundle: each prefixed by its length, a big-endian uint16."""
    out = bytearray()
    for entry in entries:
        if len(entry) > 0xFFFF:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit a bundle")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)
