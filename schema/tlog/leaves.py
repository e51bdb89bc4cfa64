"""What one registry event (or audit record) contributes to its transparency log.

The leaf binds the event's place in its robot's chain (code, sequence), its
salted commitment and its chain hash, as canonical JSON. Every part is already
shown to anyone who may see the chain, and the commitment is salted, so a leaf
reveals nothing a caller may not see and cannot be recomputed from a guessed
payload. A scheme-1 (unsalted) event has no leaf: its hash is a guessable
function of its payload, so a store must be re-committed
(`robopass registry recommit`) before its log is served.
"""

from __future__ import annotations

import json

__all__ = ["UnloggableEvent", "audit_leaf", "event_leaf"]


class UnloggableEvent(ValueError):
    """An event without a salted commitment cannot be a leaf."""


def event_leaf(code: str, sequence: int, commitment: str | None, hash: str) -> bytes:
    """The leaf data of one event (hash it with `merkle.leaf_hash`)."""
    if commitment is None:
        raise UnloggableEvent(
            f"event {code}#{sequence} has no salted commitment; run robopass registry recommit"
        )
    record = {"code": code, "commitment": commitment, "hash": hash, "sequence": sequence}
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def audit_leaf(id: int, commitment: str | None, hash: str) -> bytes:
    """The leaf data of one audit record: its id, salted commitment and chain hash."""
    if commitment is None:
        raise UnloggableEvent(
            f"audit record {id} has no salted commitment; run robopass audit migrate"
        )
    record = {"commitment": commitment, "hash": hash, "id": id}
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
