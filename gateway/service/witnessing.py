"""A log's checkpoint with its witnesses' cosignatures, as the node serves it.

When the log has grown, the node sends its new signed checkpoint to each
witness (C2SP tlog-witness `add-checkpoint`) with a consistency proof from the
size that witness last cosigned, and serves the checkpoint with every
cosignature line it got back. A witness answering 409 tells the size it
holds; the node retries once from there. A witness that refuses, cannot be
reached or answers 200 with something other than signature lines is left out
and asked again a few seconds later: the parties that require its
cosignature then see the checkpoint without it, which is the point.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from schema.tlog.note import DECIMAL, Checkpoint, NoteError, split_note

__all__ = ["RETRY_SECONDS", "SignedLog", "WitnessedLog"]

RETRY_SECONDS = 5.0
TIMEOUT = 10.0


class SignedLog(Protocol):
    """A log that signs its checkpoints and proves them consistent (the node's, the audit's)."""

    def checkpoint(self) -> str: ...

    def consistency(self, old: int, new: int) -> list[bytes]: ...


@dataclass
class _Witness:
    url: str
    known: int = 0
    last_error: str | None = None


@dataclass
class _Cosigned:
    size: int
    note: str
    missing: list[str] = field(default_factory=list)
    at: float = 0.0


class WitnessedLog:
    """`log`'s checkpoints, cosigned by the witnesses at `urls` (their add-checkpoint URLs)."""

    def __init__(self, log: SignedLog, urls: list[str]) -> None:
        self.log = log
        self._witnesses = [_Witness(url) for url in urls]
        self._lock = threading.Lock()
        self._current: _Cosigned | None = None
        self._client = httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def errors(self) -> dict[str, str]:
        """The witnesses whose last answer was not a cosignature, and why."""
        return {w.url: w.last_error for w in self._witnesses if w.last_error}

    def checkpoint(self) -> str:
        """The newest checkpoint with every cosignature the witnesses gave for it."""
        note = self.log.checkpoint()
        text, _ = split_note(note)
        size = Checkpoint.parse(text).size
        with self._lock:
            current = self._current
            if (
                current is not None
                and current.size == size
                and (not current.missing or time.monotonic() - current.at < RETRY_SECONDS)
            ):
                return current.note
            lines, missing = [], []
            for witness in self._witnesses:
                line = self._submit(witness, note, size)
                if line is None:
                    missing.append(witness.url)
                else:
                    lines.append(line)
            cosigned = note + "".join(lines)
            self._current = _Cosigned(size, cosigned, missing, time.monotonic())
            return cosigned

    def _submit(self, witness: _Witness, note: str, size: int) -> str | None:
        for _ in range(2):
            old = min(witness.known, size)
            proof = self.log.consistency(old, size)
            body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
            try:
                answer = self._client.post(witness.url, content=(body + "\n" + note).encode())
            except httpx.HTTPError as exc:
                witness.last_error = f"unreachable: {type(exc).__name__}"
                return None
            if answer.status_code == 409 and answer.headers.get("content-type", "").startswith(
                "text/x.tlog.size"
            ):
                held = answer.text.strip()
                if DECIMAL.fullmatch(held) and int(held) != old:
                    witness.known = int(held)
                    continue
            if answer.status_code != 200:
                reason = answer.text.strip().splitlines()[0] if answer.text.strip() else ""
                witness.last_error = f"{answer.status_code} {reason}".strip()
                return None
            lines = _signature_lines(answer.text)
            if lines is None:
                witness.last_error = "200 with a body that is not note signature lines"
                return None
            witness.known = size
            witness.last_error = None
            return lines
        witness.last_error = "409: the witness's size moved twice"
        return None


def _signature_lines(body: str) -> str | None:
    """The cosignature lines of a witness's 200 answer, or None if it is not one.

    The node relays them unverified (it need not know the witness keys; the parties
    that require a witness check its cosignature and ignore the rest), but only
    well-formed lines: a body that is not signature lines (a proxy's error page)
    would make the served note unreadable, which a gateway takes for a broken log.
    """
    text = body if body.endswith("\n") else body + "\n"
    try:
        _, signatures = split_note("x\n\n" + text)
    except NoteError:
        return None
    return "".join(s.line() for s in signatures)
