"""The disclosure audit log's checkpoints, cosigned by witnesses while the gateway runs.

`robopass audit checkpoint --witness` cosigns a checkpoint when someone runs
it; an operator who cuts off the newest rows before anyone did is not caught.
Here `robopass serve` (with `[audit] witnesses`) does it itself: every
`witness_interval` seconds, when the log's head moved, it signs a checkpoint
of the audit log with the audit log key, submits it to every witness with a
consistency proof (C2SP tlog-witness, `gateway.service.witnessing`), and once
all of them cosigned it keeps the cosigned note in the data directory
(`audit-checkpoint`, replaced atomically, so a kill leaves the previous one).

What that buys: the witnesses hold the size they cosigned and never cosign a
smaller or diverging log, so rows cut off after a cosignature make every later
submission fail (and say so on the console), and `robopass audit verify
--checkpoint <data-dir>/audit-checkpoint --log-key ...` (or against a copy the
witness or an auditor kept) names the cut: `TRUNCATED`. Rows written after the
last cosignature (at most `witness_interval` seconds of them) are not covered.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from policies import AuditLog
from schema.tlog.note import Signer

from .auditlog import AuditTransparency
from .witnessing import WitnessedLog

__all__ = ["CHECKPOINT_FILE", "AuditWitnessing"]

CHECKPOINT_FILE = "audit-checkpoint"
log = logging.getLogger("robopass.audit")


class AuditWitnessing:
    """Cosigned checkpoints of `audit`, kept in `folder`, for as long as `run` runs."""

    def __init__(
        self,
        audit: AuditLog,
        signer: Signer,
        witnesses: tuple[str, ...],
        folder: Path,
        interval: float,
    ) -> None:
        self.audit = audit
        self.interval = interval
        self.path = folder / CHECKPOINT_FILE
        self._witnessed = WitnessedLog(AuditTransparency(audit, signer), list(witnesses))
        self._cosigned: tuple[int, str] | None = None
        self.refusals: dict[str, str] = {}

    def step(self) -> int | None:
        """Cosign the log as it stands if its head moved; the size now kept, or None."""
        head = self.audit.head()
        if head[0] == 0 or head == self._cosigned:
            return None
        note = self._witnessed.checkpoint()
        self.refusals = self._witnessed.errors()
        if self.refusals:
            return None
        _replace(self.path, note)
        self._cosigned = head
        return head[0]

    async def run(self) -> None:
        """`step` every `interval` seconds in a worker thread, until cancelled."""
        said: dict[str, str] = {}
        try:
            while True:
                try:
                    await asyncio.to_thread(self.step)
                except (OSError, ValueError) as exc:
                    log.warning("audit log checkpoint not cosigned: %s", exc)
                if self.refusals != said:
                    for url, error in self.refusals.items():
                        log.warning("audit log witness %s did not cosign: %s", url, error)
                    said = dict(self.refusals)
                await asyncio.sleep(self.interval)
        finally:
            self._witnessed.close()


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader (or a kill) sees the old file or the new one."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
