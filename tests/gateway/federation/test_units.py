"""Federation parts that need no registry node: config rules, cursors, breaker, routing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.federation import cursor
from gateway.federation.breaker import CircuitBreaker, State
from gateway.federation.cache import PassportCache
from gateway.federation.config import ConfigError, RegistryConfig, load_federation, registries_from
from gateway.federation.retry import backoff_delay
from gateway.federation.source import FederatedSource
from gateway.synthetic.fleet import synthetic_fleet
from schema.events import fold
from schema.source import CursorError, Head, NotServed, RobotFilter

ENV = {"CN_SECRET": "s3cret"}


def entry(**changes) -> dict:
    base = {
        "id": "cn-heis",
        "format": "cn-miit",
        "base_url": "http://127.0.0.1:8101",
        "countries": ["CN"],
        "jurisdictions": ["CN"],
        "timeout": 2.0,
        "credentials": {
            "token_url": "http://127.0.0.1:9000/token",
            "client_id": "robopass-gateway",
            "client_secret_env": "CN_SECRET",
        },
        "retry": {"attempts": 3, "backoff": 0.05},
        "breaker": {"failures": 5, "reset_after": 10.0},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def eu(**changes) -> dict:
    base = {"id": "eu-aas", "format": "aas", "countries": ["DE", "FR"], "credentials": None}
    return entry(**{**base, **changes})


# -- configuration -----------------------------------------------------------


def test_a_full_entry_reads_every_key() -> None:
    config = RegistryConfig.from_mapping(entry(), env=ENV)
    assert config.id == "cn-heis" and config.format == "cn-miit"
    assert config.countries == ("CN",) and config.timeout == 2.0
    assert config.credentials is not None
    assert config.credentials.secret(ENV) == "s3cret"
    assert (config.retry.attempts, config.breaker.reset_after) == (3, 10.0)
    assert "s3cret" not in repr(config)


def test_defaults_fill_optional_tables() -> None:
    config = RegistryConfig.from_mapping(eu(retry=None, breaker=None, jurisdictions=None))
    assert config.jurisdictions == ("DE", "FR")
    assert config.credentials is None
    assert config.retry.attempts >= 1 and config.breaker.failures >= 1


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"id": None}, "registries[0].id: missing"),
        ({"id": "  "}, "registries[0].id: must be a non-empty string"),
        ({"format": "json"}, "registries[0].format: must be one of cn-miit, aas"),
        ({"base_url": "ftp://host/x"}, "registries[0].base_url: must be an http(s) URL"),
        ({"base_url": "http://"}, "registries[0].base_url: must be an http(s) URL"),
        ({"countries": ["XX"]}, "registries[0].countries: 'XX' is not an ISO 3166-1"),
        ({"countries": ["cn"]}, "registries[0].countries: 'cn' is not an ISO 3166-1"),
        ({"countries": []}, "registries[0].countries: must be a non-empty list"),
        ({"countries": ["CN", "CN"]}, "registries[0].countries: CN is listed twice"),
        ({"jurisdictions": ["EU"]}, "registries[0].jurisdictions: 'EU' is not"),
        ({"timeout": 0}, "registries[0].timeout: must be positive"),
        ({"timeout": -1.0}, "registries[0].timeout: must be positive"),
        ({"timeout": "2s"}, "registries[0].timeout: must be a number"),
        ({"retry": {"attempts": 0}}, "registries[0].retry.attempts: must be at least 1"),
        ({"retry": {"backoff": -0.1}}, "registries[0].retry.backoff: must be zero or positive"),
        ({"retry": {"tries": 2}}, "registries[0].retry.tries: unknown key"),
        ({"breaker": {"failures": 0}}, "registries[0].breaker.failures: must be at least 1"),
        ({"breaker": {"reset_after": 0}}, "registries[0].breaker.reset_after: must be positive"),
        ({"breaker": "on"}, "registries[0].breaker: must be a table"),
        ({"timout": 1.0}, "registries[0].timout: unknown key"),
        (
            {"credentials": {"token_url": "x", "client_id": "a", "client_secret_env": "CN_SECRET"}},
            "registries[0].credentials.token_url: must be an http(s) URL",
        ),
        (
            {"credentials": {"token_url": "http://a/t", "client_id": "a", "client_secret": "s"}},
            "registries[0].credentials.client_secret: unknown key",
        ),
        (
            {
                "credentials": {
                    "token_url": "http://a/t",
                    "client_id": "a",
                    "client_secret_env": "UNSET_VARIABLE",
                }
            },
            "registries[0].credentials.client_secret_env: environment variable UNSET_VARIABLE",
        ),
    ],
)
def test_each_bad_value_is_named_by_its_key(changes: dict, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RegistryConfig.from_mapping(entry(**changes), env=ENV)
    assert str(caught.value).startswith(key), str(caught.value)


def test_ids_must_be_unique_and_countries_served_once() -> None:
    with pytest.raises(ConfigError, match=r"^registries\[1\]\.id: 'cn-heis' is already"):
        registries_from([entry(), eu(id="cn-heis")], env=ENV)
    with pytest.raises(ConfigError, match=r"^registries\[1\]\.countries: CN is already served"):
        registries_from([entry(), eu(countries=["FR", "CN"])], env=ENV)
    with pytest.raises(ConfigError, match=r"^registries: must be a non-empty list"):
        registries_from([], env=ENV)
    assert [r.id for r in registries_from([entry(), eu()], env=ENV)] == ["cn-heis", "eu-aas"]


def test_a_toml_file_is_loaded_and_its_errors_name_the_key(tmp_path: Path) -> None:
    good = tmp_path / "gateway.toml"
    good.write_text(
        '[[registries]]\nid = "cn-heis"\nformat = "cn-miit"\nbase_url = "http://127.0.0.1:1"\n'
        'countries = ["CN"]\n\n[[registries]]\nid = "eu"\nformat = "aas"\n'
        'base_url = "https://eu.example"\ncountries = ["DE"]\ntimeout = 0.5\n'
    )
    assert [r.timeout for r in load_federation(good)] == [2.0, 0.5]
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('"https://eu.example"', '"eu.example"'))
    with pytest.raises(ConfigError, match=r"^registries\[1\]\.base_url"):
        load_federation(bad)
    (tmp_path / "none.toml").write_text("[server]\nport = 1\n")
    with pytest.raises(ConfigError, match="registries: missing"):
        load_federation(tmp_path / "none.toml")
    (tmp_path / "broken.toml").write_text("[[registries]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_federation(tmp_path / "broken.toml")


# -- composite cursors ---------------------------------------------------------


def part(codes: list[str], more: bool = False) -> cursor.Part[str]:
    return cursor.Part(codes, [f"c:{c}" for c in codes], more)


def test_merge_orders_by_key_and_carries_each_registrys_position() -> None:
    parts = {"cn": part(["CN1", "CN3", "CN5"]), "eu": part(["DE2", "DE4"], more=True)}
    start = {"cn": None, "eu": None}
    items, positions, more = cursor.merge(parts, start, 4, lambda c: c[2:])
    assert items == ["CN1", "DE2", "CN3", "DE4"]
    assert positions[0] == {"cn": "c:CN1", "eu": None}
    assert positions[-1] == {"cn": "c:CN3", "eu": "c:DE4"}
    assert more
    items, positions, more = cursor.merge(parts, start, 10, lambda c: c[2:])
    assert len(items) == 5 and more  # eu said it has more
    parts["eu"] = part(["DE2", "DE4"])
    assert cursor.merge(parts, start, 5, lambda c: c[2:])[2] is False


def test_a_failed_registry_keeps_its_position() -> None:
    start = {"cn": "c:CN1", "eu": "c:DE2"}
    items, positions, _ = cursor.merge({"cn": part(["CN3"])}, start, 5, lambda c: c)
    assert items == ["CN3"]
    assert positions == [{"cn": "c:CN3", "eu": "c:DE2"}]


def test_cursors_round_trip_and_foreign_or_edited_ones_are_refused() -> None:
    token = cursor.encode("robots", {"cn": "abc", "eu": None})
    assert cursor.decode("robots", token, ["cn", "eu"], str) == {"cn": "abc", "eu": None}
    assert cursor.decode("robots", None, ["cn", "eu"], str) == {"cn": None, "eu": None}
    refused = [
        cursor.encode("changes", {"cn": 1, "eu": 2}),  # another list's
        cursor.encode("robots", {"cn": "abc"}),  # a gateway with other registries
        cursor.encode("robots", {"cn": "abc", "eu": None, "us": None}),
        cursor.encode("robots", {"cn": 5, "eu": None}),  # wrong type of position
        token[:-3],  # truncated
        "not a cursor!",
        "",
    ]
    for bad in refused:
        with pytest.raises(CursorError):
            cursor.decode("robots", bad, ["cn", "eu"], str)
    with pytest.raises(CursorError):
        cursor.decode("changes", cursor.encode("changes", {"cn": -1}), ["cn"], int)
    assert cursor.decode("changes", cursor.encode("changes", {"cn": 7}), ["cn"], int) == {"cn": 7}


# -- breaker and retry timing -----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, reset_after=10.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    breaker.success()  # a success resets the count: failures must be consecutive
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is State.OPEN and not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is State.HALF_OPEN
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # no second call while it is out
    breaker.failure()  # the probe failed: open again, for another full interval
    assert breaker.state is State.OPEN and not breaker.allow()
    clock.now += 10.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state is State.CLOSED and breaker.allow() and breaker.allow()


def test_an_abandoned_probe_lets_another_go() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, reset_after=1.0, clock=clock)
    breaker.failure()
    clock.now += 1.0
    assert breaker.allow() and not breaker.allow()
    breaker.abandon()
    assert breaker.allow()


def test_backoff_is_full_jitter_doubling() -> None:
    highs = [backoff_delay(n, 0.05, lambda low, high: high) for n in (1, 2, 3)]
    assert highs == [0.05, 0.1, 0.2]
    assert backoff_delay(3, 0.05, lambda low, high: low) == 0.0


# -- routing and the cache -----------------------------------------------------


def test_routing_by_country_prefix() -> None:
    async def run() -> None:
        source = FederatedSource(registries_from([entry(), eu()], env=ENV), env=ENV)
        try:
            assert source.home("CNH7K2H0A1B32605281000012345A").id == "cn-heis"
            assert source.home("FRH7K2H0A1B32605281000012345A").id == "eu-aas"
            with pytest.raises(NotServed, match="no registry of this gateway serves country US"):
                source.home("USH7K2H0A1B32605281000012345A")
            assert [c.id for c in source.relevant(RobotFilter())] == ["cn-heis", "eu-aas"]
            assert [c.id for c in source.relevant(RobotFilter(registry="eu-aas"))] == ["eu-aas"]
            assert source.relevant(RobotFilter(registry="nowhere")) == []
            results = await source.load_current(["USH7K2H0A1B32605281000012345A"])
            assert isinstance(results[0], NotServed)
        finally:
            await source.aclose()

    asyncio.run(run())


def test_cache_is_keyed_by_version_and_bounded() -> None:
    fleet = list(synthetic_fleet(3, seed=2))
    passports = [fold(history) for history in fleet]
    cache = PassportCache(size=2)
    a, b, c = passports
    cache.put(a.code, Head(1, "h1"), a)
    assert cache.get(a.code, "h1") is a
    assert cache.get(a.code, "h2") is None  # another version is another entry
    assert cache.latest(a.code) == (Head(1, "h1"), a)
    cache.put(b.code, Head(1, "x"), b)
    cache.put(c.code, Head(1, "y"), c)  # evicts a, the least recently used
    assert cache.get(a.code, "h1") is None and cache.latest(a.code) is None
    assert cache.get(c.code, "y") is c
    cache.put(c.code, Head(0, "past"), b, latest=False)  # a view of the past
    assert cache.latest(c.code) == (Head(1, "y"), c)


@pytest.mark.process
def test_serve_with_a_bad_config_stops_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[[registries]]\nid = "cn"\nformat = "cn-miit"\nbase_url = "127.0.0.1:8101"\n'
        'countries = ["CN"]\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert run.returncode != 0
    assert "registries[0].base_url: must be an http(s) URL" in run.stderr
    assert "Traceback" not in run.stderr


def test_events_off_the_wire_keep_their_scheme_and_are_checked() -> None:
    """The node sends salts and commitments; the client refuses an event that does not hold."""
    import dataclasses

    from gateway.federation.wire import BadRecord, event_of
    from gateway.node.records import event_json
    from schema.events import LEGACY_SCHEME, rechain

    history = next(iter(synthetic_fleet(1, seed=4)))
    for event in history:
        assert event_of(orjson_roundtrip(event_json(event))) == event
    legacy = rechain(history, LEGACY_SCHEME)[2]
    old_node = {k: v for k, v in event_json(legacy).items() if k not in ("scheme", "salt")}
    assert event_of(orjson_roundtrip(old_node)) == legacy, "a node from before salting: scheme 1"
    for change in ({"salt": "0" * 32}, {"commitment": "0" * 64}, {"payload": {"x": 1}}):
        forged = event_json(dataclasses.replace(history[2], **change))
        with pytest.raises(BadRecord, match="does not verify"):
            event_of(orjson_roundtrip(forged))


def orjson_roundtrip(value):
    import orjson

    return orjson.loads(orjson.dumps(value))


def test_reading_one_document_does_not_time_out_the_call_beside_it(tmp_path, monkeypatch):
    """A past view asks the node for the robot then and now at once. Checking and
    translating a large document took the event loop, so under load the other call
    ran out of its timeout though the node had answered: the whole robot came back
    REGISTRY_UNAVAILABLE (the leak test's federated past views, issue of the merge)."""
    import time

    from gateway.federation import source as federation_source
    from gateway.store import RegistryStore
    from tests.support.node import Node, WithToken

    history = next(iter(synthetic_fleet(1, seed=11)))
    store = RegistryStore(tmp_path / "registry.db")
    store.import_histories([history])
    node = Node(store, "cn-miit", tmp_path / "node")
    timeout = 0.3
    read = federation_source.passport_of

    def slow_read(fmt: str, document: dict):
        time.sleep(timeout * 1.5)  # a large passport on a loaded machine
        return read(fmt, document)

    monkeypatch.setattr(federation_source, "passport_of", slow_read)
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=timeout
    )

    async def past_view():
        federation = FederatedSource([config], transports={"cn-heis": WithToken(node)})
        try:
            return await federation.robot(history[0].code, history[-1].at)
        finally:
            await federation.aclose()

    record = asyncio.run(past_view())
    assert record is not None and record.as_of == history[-1].at
    assert record.head.sequence == history[-1].sequence
    assert record.passport.ownership == fold(history).ownership == record.current.ownership
