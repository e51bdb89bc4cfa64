"""Trust in cached passports as the change feed keeps it (`gateway.federation.freshness`).

The end-to-end behaviour (a write at the node served within the bound, a killed
node) is in tests/gateway/federation/test_process.py; here the rules, with an explicit clock.
"""

from __future__ import annotations

import pytest

from gateway.federation.config import ConfigError, RegistryConfig
from gateway.federation.freshness import Freshness, _changes
from schema.source import RegistryUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_version_is_current_only_while_the_feed_was_read_within_the_bound() -> None:
    clock = Clock()
    fresh = Freshness(0.5, clock)
    fresh.grant("CN1", "h1", fresh.epoch)
    assert not fresh.current("CN1", "h1")  # the feed was never read to its end
    fresh.verified_at = clock.now
    assert fresh.current("CN1", "h1") and not fresh.current("CN1", "h2")
    clock.now += 0.5
    assert fresh.current("CN1", "h1")
    clock.now += 0.01
    assert not fresh.current("CN1", "h1")  # past the bound: ask the node


def test_a_change_or_a_feed_error_withdraws_trust() -> None:
    clock = Clock()
    fresh = Freshness(1.0, clock)
    fresh.verified_at = clock.now
    for code in ("CN1", "CN2", "CN3"):
        fresh.grant(code, "h", fresh.epoch)
    fresh.invalidate("CN1")
    assert not fresh.current("CN1", "h") and fresh.current("CN2", "h")
    fresh.unverified()
    assert not fresh.current("CN2", "h")
    fresh.verified_at = clock.now
    assert not fresh.current("CN3", "h")  # trust is not restored by the feed alone


def test_an_answer_sent_before_a_change_was_processed_is_not_trusted() -> None:
    fresh = Freshness(1.0, Clock())
    fresh.verified_at = fresh.clock()
    sent_at = fresh.epoch  # a read goes out...
    fresh.invalidate("CN7")  # ...the follower sees a change meanwhile...
    fresh.grant("CN1", "old", sent_at)  # ...and the answer, maybe older, arrives
    assert not fresh.current("CN1", "old")
    fresh.grant("CN1", "new", fresh.epoch)
    assert fresh.current("CN1", "new")


def test_a_feed_page_that_does_not_parse_is_a_registry_error() -> None:
    good = {"changes": [{"position": 3, "event": {"code": "CN1", "hash": "h"}}]}
    assert _changes("cn", good) == [(3, "CN1", "h")]
    for bad in ({}, {"changes": [{"position": "x", "event": {}}]}, {"changes": None}, []):
        with pytest.raises(RegistryUnavailable, match="change feed that does not parse"):
            _changes("cn", bad)


BASE = {
    "id": "cn-heis",
    "format": "cn-miit",
    "base_url": "http://127.0.0.1:8101",
    "countries": ["CN"],
}


def test_freshness_is_configured_per_registry_and_checked() -> None:
    assert RegistryConfig.from_mapping(BASE).freshness == 0.5
    assert RegistryConfig.from_mapping({**BASE, "freshness": 0}).freshness == 0.0
    assert RegistryConfig.from_mapping({**BASE, "freshness": 2}).freshness == 2.0
    with pytest.raises(ConfigError, match=r"registries\[0\]\.freshness: must be zero or positive"):
        RegistryConfig.from_mapping({**BASE, "freshness": -1})
    with pytest.raises(ConfigError, match=r"registries\[0\]\.freshness: must be a number"):
        RegistryConfig.from_mapping({**BASE, "freshness": "fast"})
