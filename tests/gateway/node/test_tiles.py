"""The node's log in the C2SP tlog-tiles layout, read as a tiles client would.

The client here is written from the specification's definitions alone (tile
coordinates, partial widths, entry bundles, RFC 6962 hashing with hashlib),
not from robopass's tree: it fetches the checkpoint, the tiles and the entry
bundles a checkpoint of that size requires, checks every entry against its
leaf hash, rebuilds the root, and derives inclusion proofs that pymerkle (not
ours) verifies and that equal the node's own proof route. A checkpoint of an
older size is rebuilt from its partial tiles, which stay served.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from datetime import timedelta
from pathlib import Path

import pymerkle
import pytest

from gateway.store import Store
from schema.events import EventType
from schema.tlog.note import Checkpoint, Verifier, open_note
from tests.support.node import Node
from tests.support.stores import empty_store, record, store

__all__ = ["empty_store", "store"]  # fixtures on both backends, used by parameter name

WIDTH = 256


def mth_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def mth_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def index_path(n: int) -> str:
    """N as the spec writes it: three-digit groups, all but the last led by x."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


class TilesClient:
    """The hashes of a tree of `size` leaves, as the tiles of the layout hold them."""

    def __init__(self, node: Node, size: int) -> None:
        self.node, self.size = node, size
        self.tiles: dict[int, list[bytes]] = {}
        level = 0
        while size // WIDTH**level:
            full, width = size // WIDTH ** (level + 1), size // WIDTH**level % WIDTH
            hashes: list[bytes] = []
            for n in range(full):
                hashes += self._fetch(f"/log/tile/{level}/{index_path(n)}", WIDTH * 32)
            if width:
                path = f"/log/tile/{level}/{index_path(full)}.p/{width}"
                hashes += self._fetch(path, width * 32)
            self.tiles[level] = hashes
            level += 1

    def _fetch(self, path: str, length: int) -> list[bytes]:
        answer = self.node.get(path, token=None)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"] == "application/octet-stream"
        assert "immutable" in answer.headers["cache-control"]
        assert len(answer.content) == length
        return [answer.content[i : i + 32] for i in range(0, length, 32)]

    def entries(self) -> list[bytes]:
        found: list[bytes] = []
        full, width = self.size // WIDTH, self.size % WIDTH
        paths = [f"/log/tile/entries/{index_path(n)}" for n in range(full)]
        if width:
            paths.append(f"/log/tile/entries/{index_path(full)}.p/{width}")
        for path in paths:
            answer = self.node.get(path)
            assert answer.status_code == 200, answer.text
            body, at = answer.content, 0
            while at < len(body):
                (length,) = struct.unpack(">H", body[at : at + 2])
                found.append(body[at + 2 : at + 2 + length])
                at += 2 + length
        return found

    def mth(self, start: int, n: int) -> bytes:
        """MTH(D[start:start+n]) (RFC 6962 2.1), taking whole tile hashes where they fit."""
        for level in sorted(self.tiles, reverse=True):
            span = WIDTH**level
            if n == span and start % span == 0 and start // span < len(self.tiles[level]):
                return self.tiles[level][start // span]
        k = 1 << ((n - 1).bit_length() - 1)
        return mth_node(self.mth(start, k), self.mth(start + k, n - k))

    def path(self, m: int, start: int, n: int) -> list[bytes]:
        """PATH(m, D[start:start+n]) (RFC 6962 2.1.1)."""
        if n == 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return [*self.path(m, start, k), self.mth(start + k, n - k)]
        return [*self.path(m - k, start + k, n - k), self.mth(start, k)]


def grow(store: Store, events: int) -> None:
    """`events` more events in the log."""
    code = store.codes()[0]
    last = store.events(code)[-1].at
    for _ in range(events):
        last += timedelta(hours=1)
        payload = {**record(), "at": last.isoformat()}
        store.append(code, EventType.MAINTENANCE_RECORDED, payload, last)


def checkpoint(node: Node) -> Checkpoint:
    key = Verifier.from_vkey(node.get("/log/key", token=None).text)
    text, _ = open_note(node.get("/log/checkpoint", token=None).text, [key])
    return Checkpoint.parse(text)


@pytest.fixture
def node(store: Store, tmp_path: Path) -> Node:
    return Node(store, "cn-miit", tmp_path / "data", log=True)


def test_tiles_rebuild_the_checkpoint_and_proofs_pymerkle_verifies(
    node: Node, store: Store
) -> None:
    first = checkpoint(node)
    grow(store, 3)
    now = checkpoint(node)
    assert WIDTH < now.size < WIDTH**2 and now.size % WIDTH > 3
    client = TilesClient(node, now.size)
    assert len(client.tiles) == 2  # full and partial level-0 tiles, a partial level-1 one
    entries = client.entries()
    assert [mth_leaf(e) for e in entries] == client.tiles[0]
    assert client.mth(0, now.size) == now.root

    for index in (0, 1, WIDTH - 1, WIDTH, now.size - 1):
        entry = entries[index]
        proof = client.path(index, 0, now.size)
        rule = _rule(index, now.size)
        proven = pymerkle.InclusionProof(
            "sha256", True, now.size, index + 1, rule, [mth_leaf(entry), *proof]
        )
        pymerkle.verify_inclusion(mth_leaf(entry), now.root, proven)
        code, sequence = _leaf_key(entry)
        served = node.get(
            "/log/proof/inclusion", params={"code": code, "sequence": sequence, "size": now.size}
        ).json()
        assert served["index"] == index
        assert [base64.b64decode(h) for h in served["hashes"]] == proof

    # the older checkpoint's partial tiles are still served and rebuild its root
    assert TilesClient(node, first.size).mth(0, first.size) == first.root


def _rule(index: int, size: int) -> list[int]:
    """pymerkle's ordering rule for PATH(index, size), from a tree of its own."""
    other = pymerkle.InmemoryTree(algorithm="sha256")
    for i in range(size):
        other.append_entry(str(i).encode())
    return other.prove_inclusion(index + 1, size).rule


def _leaf_key(entry: bytes) -> tuple[str, int]:
    leaf = json.loads(entry)
    return leaf["code"], leaf["sequence"]


def test_tiles_not_yet_held_and_paths_that_name_no_tile_are_404(node: Node, store: Store) -> None:
    size = checkpoint(node).size
    last, width = index_path(size // WIDTH), size % WIDTH
    assert width < WIDTH - 1
    beyond = node.get(f"/log/tile/0/{last}.p/{width + 1}", token=None)
    assert beyond.status_code == 404 and "beyond the log's" in beyond.json()["detail"]
    assert node.get(f"/log/tile/0/{last}", token=None).status_code == 404
    assert node.get("/log/tile/1/000", token=None).status_code == 404
    for bad in ("0/0000", "64/000", "0/000.p/256", "0/000.p/0", "0/x001", "00/000", "entries/1"):
        answer = node.get(f"/log/tile/{bad}", token=None)
        assert answer.status_code == 404 and "no such tile" in answer.json()["detail"], bad
    # entries name robots: a token is needed; tiles are hashes and public
    assert node.get(f"/log/tile/entries/{last}.p/{width}", token=None).status_code == 401
    assert node.get(f"/log/tile/0/{last}.p/{width}", token=None).status_code == 200


def test_entry_bundles_are_gzip_encoded_for_a_client_that_accepts_it(node: Node) -> None:
    size = checkpoint(node).size
    path = f"/log/tile/entries/{index_path(size // WIDTH)}.p/{size % WIDTH}"
    plain = node.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    for accept in ("gzip", "br;q=0.5, gzip;q=0.8", "*"):
        packed = node.get(path, headers={"Accept-Encoding": accept})
        assert packed.headers["content-encoding"] == "gzip", accept
        assert packed.headers["vary"] == "Accept-Encoding"
        assert packed.content == plain.content  # httpx undid the gzip
        assert packed.num_bytes_downloaded < len(plain.content) / 2  # sent compressed
    refused = node.get(path, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    # hash tiles are random bytes: never compressed
    tile = node.get(f"/log/tile/0/{index_path(size // WIDTH)}.p/{size % WIDTH}", token=None)
    assert "content-encoding" not in tile.headers
