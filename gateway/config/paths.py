"""Where robopass keeps a user's data when no configuration names a place."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """Outside the repository, where a user's data belongs (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "robopass"
