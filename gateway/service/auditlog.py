"""The disclosure audit log as a transparency log of its own.

The audit log is hash-chained, so an edited or reordered record is found by
`robopass audit verify`; but a chain cannot show that its newest records were
cut off. A checkpoint can: the audit log's Merkle tree (one leaf per record,
its id, salted commitment and hash, `schema.tlog.leaves.audit_leaf`) signed by
the audit log key and, optionally, cosigned by witnesses. Anyone holding an
earlier checkpoint can later check that the log still holds those records
unchanged (`robopass audit verify --checkpoint`). The tree is rebuilt from the
rows on each use: the command line reads it once.
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

    def refresh(self) -> int:
        tree = Tree()
        for row in self.log.rows():
            commitment, digest = row[-3], row[-1]
            tree.append(leaf_hash(audit_leaf(row[0], commitment, digest)))
        self._tree = tree
        return len(tree)

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
