"""The registry's credential signing key on disk, and the public keys it publishes.

One EC P-256 key signs exported passports. It is generated on first use into the
data directory (mode 0600, never logged). Rotation keeps the public half of each
retired key in a second file, so credentials signed before a rotation still verify
against the published JWKS; only the private half is destroyed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey

__all__ = ["ALG", "KEY_FILE", "RETIRED_FILE", "public_jwks", "rotate_key", "signing_key"]

ALG = "ES256"
KEY_FILE = "credential-key.json"
RETIRED_FILE = "credential-keys-retired.json"


def signing_key(data_dir: str | Path) -> ECKey:
    """The registry's private signing key, generated on first use."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        _write_new(path, _generate(), replace=False)
    return ECKey.import_key(json.loads(path.read_text(encoding="utf-8")))


def public_jwks(data_dir: str | Path) -> dict[str, Any]:
    """The JWKS to publish: the current key first, then every retired one."""
    current = signing_key(data_dir).as_dict(private=False)
    return {"keys": [current, *_retired(Path(data_dir))]}


def rotate_key(data_dir: str | Path) -> ECKey:
    """Retire the current key (its public half stays published) and start a new one."""
    directory = Path(data_dir)
    old = signing_key(directory).as_dict(private=False)
    retired = [k for k in _retired(directory) if k.get("kid") != old["kid"]]
    _write_json(directory / RETIRED_FILE, {"keys": [old, *retired]}, mode=0o644)
    key = _generate()
    _write_new(directory / KEY_FILE, key, replace=True)
    return key


def _generate() -> ECKey:
    key = ECKey.generate_key("P-256", private=True)
    params = {**key.as_dict(private=True), "kid": key.thumbprint(), "use": "sig", "alg": ALG}
    return ECKey.import_key(params)


def _retired(directory: Path) -> list[dict[str, Any]]:
    path = directory / RETIRED_FILE
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8"))["keys"])


def _write_new(path: Path, key: ECKey, *, replace: bool) -> None:
    """Write the private key with mode 0600, never leaving a partial file under `path`.

    Without `replace`, a key another process wrote first wins (linking fails when
    the name exists), so two first runs at once still share one key.
    """
    tmp = _write_temp(path, key.as_dict(private=True), mode=0o600)
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any], *, mode: int) -> None:
    os.replace(_write_temp(path, data, mode=mode), path)


def _write_temp(path: Path, data: dict[str, Any], *, mode: int) -> Path:
    """A fresh file next to `path`, created with `mode` before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.fchmod(fd, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return Path(name)
