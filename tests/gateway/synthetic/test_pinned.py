"""The synthetic fleet is pinned: the same (seed, index, country, registry, now), the same bytes.

Fleets are reproducible by design and tests, demos and benchmark files depend on it, so a
faster generator must write exactly what the simulation wrote before. The digests below were
computed from the generator as it was at 08ac80a (before it was made fast), over the NDJSON a
fleet file holds (`{code, events}` per line). Salts come from the OS, never from the seed, so
here they are replaced by a counter that restarts for every robot: the digest then covers
every hash and commitment as well as the content.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from random import Random

import orjson
import pytest

from gateway.node.records import event_json
from gateway.synthetic import fleet as fleet_module
from gateway.synthetic.fleet import NOW, synthetic_fleet
from schema.events import Event

Case = tuple[int, str, str, datetime, tuple[int, ...]]

PINNED: list[tuple[Case, str]] = [
    (
        (0, "CN", "cn-heis", NOW, tuple(range(60))),
        "a12875e874e870dd621340f355a30d6ca068ab372b1a57ef4bd90669dc4bf501",
    ),
    (
        (1, "CN", "cn-heis", NOW, tuple(range(300))),
        "99e9bdf190532885117455845ce6d83244f75fa268ac6bd145be52a60782d041",
    ),
    (
        (3, "DE", "de-reg", NOW, tuple(range(40))),
        "7da2c38a4e8bdaa6a2a67fefcf6c4a151812dbcb02741647df0592af18936dae",
    ),
    (
        (5, "FR", "fr-reg", datetime(2025, 6, 15, 12, 0, 7, tzinfo=UTC), tuple(range(40))),
        "829d9ab2033669fa1a7d541c94cea12af00a287b9b18fa8109aacfbdc9c2cadb",
    ),
    (
        (11, "CN", "cn-test", datetime(2024, 4, 1, tzinfo=UTC), tuple(range(20))),
        "797874bae138600ce370e6ef462236a94a52dfdd267ddbbe2ca55ef0419583c2",
    ),
    (
        (7, "CN", "cn-heis", NOW, (999_999, 123_456, 54_321, 1_000_000, 31)),
        "4777031425ce6e225404749a0f46158163a0849b160375549cc38d62d81c34a1",
    ),
    (
        (-4, "DE", "x", datetime(2030, 1, 1, tzinfo=UTC), (0, 5, 77)),
        "89abd09410b579c126c3a3eec74826577de750e22aad088bfa3e0fb59b0652f3",
    ),
]


def _robots(case: Case, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Event]]:
    """Each robot of the case, its salts counted from zero."""
    seed, country, registry, now, indices = case
    for index in indices:
        counter = itertools.count()
        monkeypatch.setattr(secrets, "token_hex", lambda _n=None, c=counter: f"{next(c):032x}")
        fleet = synthetic_fleet(
            1, seed=seed, country=country, registry=registry, now=now, start=index
        )
        yield next(iter(fleet))


def _digest(robots: Iterator[list[Event]]) -> str:
    out = hashlib.sha256()
    for history in robots:
        line = {"code": history[0].code, "events": [event_json(e) for e in history]}
        out.update(orjson.dumps(line) + b"\n")
    return out.hexdigest()


@pytest.mark.parametrize(
    ("case", "expected"), PINNED, ids=lambda v: str(v[:3]) if isinstance(v, tuple) else None
)
def test_fleet_bytes_are_pinned(case: Case, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _digest(_robots(case, monkeypatch)) == expected


def test_inlined_wear_draw_is_random_uniform_to_the_last_bit() -> None:
    """The digests above round wear to 0.1 %, so a one-ulp change would rarely show in them;
    the inlined draw must be `Random.uniform(0.8, 1.2)` exactly, not nearly."""
    spread = fleet_module._SPREAD
    library, inlined = Random(15), Random(15)
    for _ in range(20_000):
        assert library.uniform(0.8, 1.2) == 0.8 + spread * inlined.random()
