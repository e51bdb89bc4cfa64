"""The add-checkpoint decision of C2SP tlog-witness, apart from HTTP.

The request body is `old <size>`, one base64 consistency-proof hash per line,
a blank line, then the log's signed checkpoint. Checks, in the spec's order:
the body parses (400); the checkpoint's origin is a log this witness follows
(404); the log's key signed it (403); `old` is not beyond the checkpoint's
size (400, whatever the witness holds: such a request is malformed); `old` is
the size of the latest checkpoint cosigned for that log, 0 if none (409 with
that size); the proof shows the latest cosigned tree is a prefix of the new
one (422; a same-size checkpoint with another root is a 409). Only then is
the new checkpoint recorded, and only after that is it cosigned
(cosignature/v1).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass

from schema.tlog.merkle import EMPTY_ROOT, verify_consistency
from schema.tlog.note import (
    DECIMAL,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    cosign,
    open_note,
    split_note,
)

from .state import WitnessState

__all__ = ["MAX_BODY", "Refusal", "Witness"]

MAX_BODY = 16 * 1024
MAX_PROOF = 63
_DIGITS = re.compile(r"[0-9]+")


class Refusal(Exception):
    """The witness does not cosign: the HTTP status, why, and for a 409 its latest size."""

    def __init__(self, status: int, reason: str, size: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.size = size


@dataclass(frozen=True, slots=True)
class Request:
    old: int
    proof: list[bytes]
    note: str


def parse_request(body: bytes) -> Request:
    if len(body) > MAX_BODY:
        raise Refusal(400, f"the request body is over {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "the request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Refusal(400, "the request has no blank line before the checkpoint")
    lines = head.split("\n")
    first = lines[0].split(" ")
    if len(first) != 2 or first[0] != "old" or not _DIGITS.fullmatch(first[1]):
        raise Refusal(400, "the request starts with 'old <size>', the size in ASCII digits")
    if not DECIMAL.fullmatch(first[1]):
        raise Refusal(400, "the old size has a leading zero")
    proof = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(400, "a consistency proof line is not base64") from None
        if len(digest) != 32:
            raise Refusal(400, "a consistency proof hash is not 32 bytes")
        proof.append(digest)
    if len(proof) > MAX_PROOF:
        raise Refusal(400, f"the consistency proof has over {MAX_PROOF} hashes")
    return Request(int(first[1]), proof, note)


class Witness:
    """Cosigns, as `signer`, the checkpoints of the logs whose keys are `logs`."""

    def __init__(self, signer: Signer, logs: list[Verifier], state: WitnessState) -> None:
        self.signer = signer
        self.logs = {log.name: log for log in logs}
        self.state = state

    def add_checkpoint(self, body: bytes, now: int | None = None) -> str:
        """The cosignature line(s) for the checkpoint in `body`, or a `Refusal`."""
        request = parse_request(body)
        try:
            # the text the log's signature covers: before the note's last blank line
            text, _ = split_note(request.note)
            checkpoint = Checkpoint.parse(text)
        except NoteError as exc:
            raise Refusal(400, f"the checkpoint: {exc}") from None
        log = self.logs.get(checkpoint.origin)
        if log is None:
            raise Refusal(404, f"this witness does not follow the log {checkpoint.origin!r}")
        try:
            open_note(request.note, [log])
        except NoteError as exc:
            raise Refusal(403, f"the log's signature: {exc}") from None
        if request.old > checkpoint.size:
            raise Refusal(
                400, f"old size {request.old} is beyond the checkpoint's {checkpoint.size}"
            )
        latest = self.state.latest(checkpoint.origin)
        known = latest.size if latest else 0
        if request.old != known:
            raise Refusal(409, f"the latest cosigned size is {known}, not {request.old}", known)
        if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
            raise Refusal(422, "an empty checkpoint has the empty tree's root")
        old_root = latest.root if latest else EMPTY_ROOT
        if latest is not None and latest.size == checkpoint.size and latest.root != checkpoint.root:
            reason = f"another root for size {checkpoint.size} was cosigned before"
            self.state.refuse(checkpoint.origin, request.note, reason)
            raise Refusal(409, reason, known)
        if not verify_consistency(
            request.old, checkpoint.size, old_root, checkpoint.root, request.proof
        ):
            reason = f"no proof that the cosigned tree of size {known} is a prefix of this one"
            self.state.refuse(checkpoint.origin, request.note, reason)
            raise Refusal(422, reason)
        if not self.state.advance(
            checkpoint.origin, request.old, checkpoint.size, checkpoint.root, request.note
        ):
            moved = self.state.latest(checkpoint.origin)
            size = moved.size if moved else 0
            raise Refusal(409, f"the latest cosigned size is now {size}", size)
        stamp = int(time.time()) if now is None else now
        return cosign(text, self.signer, stamp).line()
