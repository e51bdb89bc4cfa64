import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long acceptance runs; set RUN_SLOW=1 or -m slow")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RUN_SLOW") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set RUN_SLOW=1 or pass -m slow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
