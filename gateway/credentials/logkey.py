"""The Ed25519 keys of a transparency log and of a witness, on disk.

A log key signs the registry's checkpoints; a witness key cosigns other logs'
checkpoints. Each is generated on first use into the data directory (mode 0600,
never logged) in the Go `note` package's `PRIVATE+KEY+...` text, so the key
also works with other C2SP tools. The key's name is the log's origin (or the
witness's name) and is part of its key ID: a key file under another name is
refused rather than silently re-used. Rotation is a new key under the same
name (so a new key ID), which every party must be given; see
docs/transparency.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from schema.tlog.note import COSIGNATURE, ED25519, NoteError, Signer

__all__ = [
    "WITNESS_KEY_FILE",
    "KeyNameMismatch",
    "event_log_origin",
    "load_or_create",
    "log_key_file",
]

WITNESS_KEY_FILE = "witness-key"


def log_key_file(registry: str) -> str:
    """The file of a registry's log key in its data folder: one per registry, since
    `robopass demo` runs several nodes over one folder."""
    return f"log-key-{registry}"


def event_log_origin(registry: str) -> str:
    """The origin line of a registry's event log checkpoints, and its log key's name."""
    return f"robopass.registry/{registry}/events"


class KeyNameMismatch(ValueError):
    """The key file holds a key under another name."""


def load_or_create(path: Path, name: str, *, witness: bool = False) -> Signer:
    """The signer stored at `path`, generated under `name` when there is none yet.

    Two processes starting at once share one key: the file is created with
    O_EXCL, and the loser reads the winner's key.
    """
    kind = COSIGNATURE if witness else ED25519
    if not path.exists():
        signer = Signer.generate(name, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(signer.skey() + "\n")
                f.flush()
                os.fsync(f.fileno())
    try:
        signer = Signer.from_skey(path.read_text(encoding="ascii"))
    except NoteError as exc:
        raise KeyNameMismatch(f"{path}: {exc}") from None
    if signer.name != name or signer.kind != kind:
        raise KeyNameMismatch(
            f"{path} holds the key of {signer.name!r}, not {name!r}; move it away to start anew"
        )
    return signer
