"""A signed passport's proof of being in its registry's transparency log, checked offline.

The bundle says which version of the robot's chain it is about (code,
sequence, head hash and the event's salted commitment), where that event is in
the log (leaf index, tree size, RFC 9162 inclusion path) and carries the
checkpoint the path leads to, signed by the log key and cosigned by witnesses.
`check` runs every check and names the first that fails: `version` (the
credential states another version), `checkpoint` (not signed by the log key,
or of another log), `inclusion` (the event is not in that checkpoint),
`witness` (a required witness did not cosign it).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from schema.tlog.leaves import event_leaf
from schema.tlog.merkle import leaf_hash, verify_inclusion
from schema.tlog.note import (
    Checkpoint,
    NoteError,
    Verifier,
    open_note,
    split_note,
    verify_cosignature,
)

__all__ = ["CheckedProof", "InvalidLogProof", "LogProof", "check"]


class InvalidLogProof(ValueError):
    """A check of the log proof failed; `check` names which."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True, slots=True)
class LogProof:
    code: str
    sequence: int
    hash: str
    commitment: str
    index: int
    size: int
    hashes: list[bytes]
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "robotCode": self.code,
            "sequence": self.sequence,
            "hash": self.hash,
            "commitment": self.commitment,
            "leafIndex": self.index,
            "treeSize": self.size,
            "inclusion": [base64.b64encode(h).decode() for h in self.hashes],
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, data: Any) -> LogProof:
        try:
            return cls(
                code=_typed(data["robotCode"], str),
                sequence=_typed(data["sequence"], int),
                hash=_typed(data["hash"], str),
                commitment=_typed(data["commitment"], str),
                index=_typed(data["leafIndex"], int),
                size=_typed(data["treeSize"], int),
                hashes=[base64.b64decode(_typed(h, str), validate=True) for h in data["inclusion"]],
                checkpoint=_typed(data["checkpoint"], str),
            )
        except (KeyError, TypeError, binascii.Error, ValueError) as exc:
            raise InvalidLogProof("bundle", f"the log proof file is malformed: {exc}") from None


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class CheckedProof:
    origin: str
    size: int
    witnesses: list[str]


def check(
    proof: LogProof,
    claims: dict[str, Any],
    log_key: Verifier,
    witnesses: list[Verifier],
) -> CheckedProof:
    """Every check of `proof` for the credential whose claims are `claims`."""
    stated = claims.get("robotVersion")
    subject = claims.get("credentialSubject")
    code = subject.get("robotCode") if isinstance(subject, dict) else None
    if not isinstance(stated, dict) or (code, stated.get("sequence"), stated.get("hash")) != (
        proof.code,
        proof.sequence,
        proof.hash,
    ):
        raise InvalidLogProof(
            "version", "the proof is about another robot version than the credential states"
        )
    try:
        text, _ = open_note(proof.checkpoint, [log_key])
        checkpoint = Checkpoint.parse(text)
    except NoteError as exc:
        raise InvalidLogProof("checkpoint", f"the checkpoint: {exc}") from None
    if checkpoint.origin != log_key.name or checkpoint.size != proof.size:
        raise InvalidLogProof("checkpoint", "the checkpoint is of another log or another size")
    leaf = leaf_hash(event_leaf(proof.code, proof.sequence, proof.commitment, proof.hash))
    if not verify_inclusion(proof.index, proof.size, leaf, proof.hashes, checkpoint.root):
        raise InvalidLogProof(
            "inclusion",
            f"version {proof.sequence} of {proof.code} is not in checkpoint {checkpoint.size}",
        )
    _, signatures = split_note(proof.checkpoint)
    names = []
    for witness in witnesses:
        if not any(verify_cosignature(text, s, witness) is not None for s in signatures):
            raise InvalidLogProof(
                "witness", f"checkpoint {checkpoint.size} has no cosignature of {witness.name}"
            )
        names.append(witness.name)
    return CheckedProof(checkpoint.origin, checkpoint.size, names)
