"""The disclosure audit log as a transparency log of its own.

The audit log is hash-chained, so an edited or reordered record is found by
`robopass audit verify`; but a chain cannot show that its newest records were
cut off. A checkpoint can: the audit log's Merkle tree (one leaf per record,
its id, salted commitment and hash, `schema.tlog.leaves.audit_leaf`) signed by
the audit log key and, optionally, cosigned by witnesses. Anyone holding an
earlier checkpoint can later check that the log still holds those records
unchanged (`robopass audit verify --checkpoint`).

Signing reads only the records added since the last checkpoint (a gateway that
witnesses its log signs one every few seconds, and rereading a long log each time
grew with the log): the tree keeps the leaves as they were first read, which is
what the witnesses hold it to. Checking a checkpoint reads the whole log again,
since what is checked is what the log holds now.
"""

from __future__ import annotations

from policies import AuditLog
from schema.tlog.leaves import audit_leaf
from schema.tlog.merkle import Tree, leaf_hash
from schema.tlog.note import Checkpoint, NoteError, Signer, Verifier, open_note, sign_note

__all__ = ["AUDIT_KEY_FILE", "AuditTransparency", "CheckpointMismatch", "audit_origin"]

AUDIT_KEY_FILE = "audit-log-key"


def audit_origin(name: str) -> str:
    return f"robopass.audit/{name}"


class CheckpointMismatch(ValueError):
    """The audit log does not hold what a checkpoint of it said."""


class AuditTransparency:
    """Checkpoints and consistency proofs of one audit log, signed by `signer`.

    Without a signer it only checks checkpoints others signed."""

    def __init__(self, log: AuditLog, signer: Signer | None = None) -> None:
        self.log = log
        self.signer = signer
        self._tree = Tree()
        self._last = 0
        """The id of the last record in the tree."""

    def refresh(self) -> int:
        """Read the records added since the last call; the tree's size.

        A log whose newest id is now below the last one read was cut off: the tree is
        read again from what is left, so its next checkpoint is smaller than the last
        and every witness refuses it."""
        if self.log.head()[0] < self._last:
            self._tree, self._last = Tree(), 0
        for row in self.log.rows(after=self._last):
            commitment, digest = row[-3], row[-1]
            self._tree.append(leaf_hash(audit_leaf(row[0], commitment, digest)))
            self._last = row[0]
        return len(self._tree)

    def checkpoint(self) -> str:
        if self.signer is None:
            raise ValueError("no audit log key to sign a checkpoint with")
        size = self.refresh()
        text = Checkpoint(self.signer.name, size, self._tree.root(size)).text()
        return sign_note(text, [self.signer])

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self._tree.consistency_proof(old, new)

    def check(self, note: str, key: Verifier) -> Checkpoint:
        """The checkpoint in `note`, once the log is shown to still hold what it covers."""
        try:
            text, _ = open_note(note, [key])
            checkpoint = Checkpoint.parse(text)
        except NoteError as exc:
            raise CheckpointMismatch(f"the checkpoint does not verify: {exc}") from None
        self._tree, self._last = Tree(), 0  # what the log holds now, not what was read
        size = self.refresh()
        if checkpoint.size > size:
            raise CheckpointMismatch(
                f"TRUNCATED: checkpoint {checkpoint.size} covers {checkpoint.size} records,"
                f" the log holds {size}: its newest records were cut off"
            )
        if self._tree.root(checkpoint.size) != checkpoint.root:
            raise CheckpointMismatch(
                f"REWRITTEN: the first {checkpoint.size} records are not those of the checkpoint"
            )
        return checkpoint
