"""Where a command's defaults come from: the one configuration loader.

Every command reads its `ROBOPASS_*` variables (and `ROBOPASS_CONFIG`'s file)
through `gateway.config.settings.load_config`, so a variable means the same to
every command and a bad value is reported with its key, once. The settings are
loaded when a command runs, not when the parser is built: a broken variable of
one command never stops another, nor `robopass --help`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from gateway.config.paths import default_data_dir
from gateway.config.settings import CONFIG_ENV, ConfigError, Settings, load_config

T = TypeVar("T")


def configured() -> Settings:
    """The file `ROBOPASS_CONFIG` names (if any), the environment, then the schema's defaults."""
    try:
        return load_config(os.environ.get(CONFIG_ENV), os.environ)
    except ConfigError as exc:
        raise SystemExit(f"robopass: configuration:\n{exc}") from None


def given(flag: T | None, default: Any) -> T:
    """A flag's value when given on the command line, else the configured default."""
    return default if flag is None else flag


def data_dir(settings: Settings) -> str:
    """`store.data_dir` (ROBOPASS_DATA_DIR), else the user's data folder."""
    return settings.store.data_dir or str(default_data_dir())


def demo_database(data_dir: str | Path) -> str:
    """The demo registry `robopass serve` seeds when no database is named."""
    return str(Path(data_dir) / "demo-cn.db")
