"""A registry's transparency log: every stored event, in append order, as a Merkle tree.

The leaves are the events' salted commitments bound to their place in their
robot's chain (`schema.tlog.leaves`), in feed order, so the log grows exactly
as the store does. The tree lives in memory and catches up with the store on
each call (reading only the new rows); hashes of complete subtrees are kept,
so a checkpoint or proof costs a few dozen hashes. Checkpoints are signed with
the log key (C2SP tlog-checkpoint in a signed note); nothing is stored beside
the events, so a node killed at any point restarts with the same log.

A leaf that changed under a running process is not re-read: the tree keeps
the value first logged, and the event a client fetches then no longer matches
its leaf, which is how a rewrite shows up to the gateway and to a witness.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from gateway.store.logleaves import LogRow
from schema.tlog.leaves import event_leaf
from schema.tlog.merkle import Tree, leaf_hash
from schema.tlog.note import Checkpoint, Signer, sign_note
from schema.tlog.tiles import TileRef, available, entry_bundle, tile_bytes

__all__ = ["EventLog", "Inclusion", "LogBroken", "LogRows", "UnknownLeaf"]

BATCH = 10_000


class LogRows(Protocol):
    def log_rows(self, after: int, limit: int) -> list[LogRow]: ...

    def log_entry(self, code: str, sequence: int) -> LogRow | None: ...

    def log_entries(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], LogRow]: ...


class LogBroken(RuntimeError):
    """The store's events cannot be read as a log (a gap in positions, an unsalted event)."""


class UnknownLeaf(LookupError):
    """No such event, or not within the requested tree size."""


@dataclass(frozen=True, slots=True)
class Inclusion:
    """Where one event is in the log and the sibling hashes up to the root of `size` leaves."""

    index: int
    size: int
    leaf_hash: bytes
    hashes: list[bytes]
    commitment: str | None


class EventLog:
    """The log over one store, signed by `signer` (whose name is the log's origin)."""

    def __init__(self, rows: LogRows, signer: Signer) -> None:
        self.rows = rows
        self.signer = signer
        self.origin = signer.name
        self._tree = Tree()
        self._lock = threading.Lock()

    def refresh(self) -> int:
        """Read events appended since the last call; the log's size."""
        with self._lock:
            while True:
                rows = self.rows.log_rows(len(self._tree), BATCH)
                for row in rows:
                    if row.position != len(self._tree) + 1:
                        raise LogBroken(
                            f"event {row.code}#{row.sequence} is at feed position"
                            f" {row.position}, expected {len(self._tree) + 1}"
                        )
                    try:
                        data = event_leaf(row.code, row.sequence, row.commitment, row.hash)
                    except ValueError as exc:
                        raise LogBroken(str(exc)) from None
                    self._tree.append(leaf_hash(data))
                if len(rows) < BATCH:
                    return len(self._tree)

    def checkpoint(self) -> str:
        """The log's current checkpoint, signed."""
        size = self.refresh()
        with self._lock:
            root = self._tree.root(size)
        return sign_note(Checkpoint(self.origin, size, root).text(), [self.signer])

    def inclusion(self, code: str, sequence: int, size: int | None = None) -> Inclusion:
        """The proof that event `code`#`sequence` is in the tree of `size` leaves (now: all)."""
        current = self.refresh()
        size = current if size is None else size
        if not 0 < size <= current:
            raise UnknownLeaf(f"size {size} is not between 1 and the log's {current} leaves")
        entry = self.rows.log_entry(code, sequence)
        if entry is None or entry.position > size:
            raise UnknownLeaf(f"event {code}#{sequence} is not in the first {size} leaves")
        with self._lock:
            index = entry.position - 1
            path = self._tree.inclusion_proof(index, size)
            return Inclusion(index, size, self._tree.leaf(index), path, entry.commitment)

    def inclusions(
        self, keys: list[tuple[str, int]], size: int | None = None
    ) -> tuple[int, list[Inclusion | None]]:
        """The proofs of many events against one tree size (now: all), in the order asked.

        None for an event that is not in the first `size` leaves: the caller decides
        whether that is evidence. One store read and one lock for the lot."""
        current = self.refresh()
        size = current if size is None else size
        if not 0 < size <= current:
            raise UnknownLeaf(f"size {size} is not between 1 and the log's {current} leaves")
        entries = self.rows.log_entries(list(dict.fromkeys(keys)))
        proofs: list[Inclusion | None] = []
        with self._lock:
            for key in keys:
                entry = entries.get(key)
                if entry is None or entry.position > size:
                    proofs.append(None)
                    continue
                index = entry.position - 1
                path = self._tree.inclusion_proof(index, size)
                proofs.append(
                    Inclusion(index, size, self._tree.leaf(index), path, entry.commitment)
                )
        return size, proofs

    def tile(self, ref: TileRef) -> bytes:
        """A Merkle tree tile (C2SP tlog-tiles) of the log as it stands; `UnknownLeaf`
        while the log is too small to hold it."""
        size = self.refresh()
        if not available(ref, size):
            raise UnknownLeaf(f"{ref.path()} is beyond the log's {size} leaves")
        with self._lock:
            return tile_bytes(self._tree, ref)

    def entries(self, ref: TileRef) -> bytes:
        """An entry bundle: the leaf data of the events the level-0 tile of `ref` hashes.

        Read from the store, so an event rewritten under a running node shows as
        an entry that no longer hashes to its leaf in the tile."""
        size = self.refresh()
        if not available(ref, size):
            raise UnknownLeaf(f"{ref.path()} is beyond the log's {size} leaves")
        start, end = ref.leaves()
        rows = self.rows.log_rows(start, end - start)
        return entry_bundle([event_leaf(r.code, r.sequence, r.commitment, r.hash) for r in rows])

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The proof that the tree of `old` leaves is a prefix of the tree of `new`."""
        current = self.refresh()
        if not 0 <= old <= new <= current:
            raise UnknownLeaf(f"need 0 <= from <= to <= {current}, got from={old} to={new}")
        with self._lock:
            return self._tree.consistency_proof(old, new)
