"""Rate limits per caller: token buckets in memory and in a real Redis, 429 with Retry-After."""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.edge.auth import demo_issuer
from gateway.edge.ratelimit import Bucket, MemoryBuckets, RateLimits, RedisBuckets, Verdict, refill
from gateway.ops.metrics import METRICS
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.web.app import create_app
from policies import PolicySet, TokenVerifier
from policies.authserver import issue_token

ISSUER = "http://gw.test/auth"
QUERY = {"query": "{ robots(first: 1) { edges { node { code } } } }"}
REDIS_URL = os.environ.get("ROBOPASS_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The Redis the tests use; skipped, saying why, only when none answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        reason = f"no Redis reachable at {REDIS_URL}: {exc}"
        if os.environ.get("ROBOPASS_REQUIRE_REDIS"):
            pytest.fail(reason)
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    name = f"robopass-test:{uuid.uuid4().hex[:12]}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


def app_with(store: SqliteStore, limits: RateLimits, data_dir: Path | None = None):
    verifier = TokenVerifier([demo_issuer(ISSUER, data_dir)]) if data_dir else None
    policy = PolicySet.demo() if data_dir else None
    return create_app(Services(LocalSource(store), policy, verifier=verifier, rate_limits=limits))


def limits(anonymous: Bucket, authenticated: Bucket | None = None, buckets=None) -> RateLimits:
    return RateLimits(anonymous, authenticated or anonymous, buckets or MemoryBuckets())


@pytest.fixture(scope="module", autouse=True)
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the module, as a server has: Redis connections belong to a loop."""
    LOOP.append(asyncio.new_event_loop())
    yield LOOP[0]
    LOOP.pop().close()


LOOP: list[asyncio.AbstractEventLoop] = []


def send(app, path: str = "/graphql", headers: dict | None = None, client=("10.0.0.1", 5000)):
    """One request to `app` in process, from the client address `client`."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as http:
            if path == "/graphql":
                return await http.post(path, json=QUERY, headers=headers or {})
            return await http.get(path, headers=headers or {})

    return LOOP[0].run_until_complete(go())


def assert_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    seconds = int(response.headers["retry-after"])
    assert seconds >= 1
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == seconds
    assert "data" not in response.json()
    assert response.headers["content-type"].startswith("application/json")
    return seconds


def test_bucket_rule_refills_to_burst_and_says_how_long_to_wait() -> None:
    bucket = Bucket(rate=2.0, burst=3)
    tokens, verdict = refill(3.0, 0.0, bucket)
    assert verdict.allowed and tokens == 2.0
    tokens, verdict = refill(0.2, 0.0, bucket)
    assert not verdict.allowed and verdict.wait == pytest.approx(0.4)
    assert verdict.retry_after == 1
    assert refill(0.0, 100.0, bucket)[0] == 2.0, "refill stops at the burst"
    assert Verdict(False, 2.0).retry_after == 2 and Verdict(False, 2.01).retry_after == 3


@pytest.mark.parametrize(("rate", "burst", "rule"), [(0, 1, "rate"), (1, 0, "burst")])
def test_bad_buckets_are_refused_naming_the_rule(rate: float, burst: int, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        Bucket(rate=rate, burst=burst)


def test_memory_bucket_refuses_past_burst_and_retry_after_is_honoured(store) -> None:
    app = app_with(store, limits(Bucket(rate=2.0, burst=3)))
    before = METRICS.registry.get_sample_value(
        "robopass_rate_limited_requests_total", {"caller": "anonymous"}
    )
    assert [send(app).status_code for _ in range(3)] == [200, 200, 200]
    seconds = assert_limited(send(app))
    after = METRICS.registry.get_sample_value(
        "robopass_rate_limited_requests_total", {"caller": "anonymous"}
    )
    assert after == (before or 0) + 1
    time.sleep(seconds)
    assert send(app).status_code == 200, "after Retry-After seconds a token is back"


def test_each_address_has_its_own_budget_and_probes_are_never_limited(store) -> None:
    app = app_with(store, limits(Bucket(rate=0.5, burst=1)))
    assert send(app).status_code == 200
    assert_limited(send(app))
    assert send(app, client=("10.0.0.2", 5000)).status_code == 200
    assert all(send(app, "/healthz").status_code == 200 for _ in range(3))
    assert send(app, "/metrics").status_code == 404, "no metrics unless asked for"


def test_downloads_and_report_pages_are_limited(store) -> None:
    code = store.codes(limit=1)[0]
    app = app_with(store, limits(Bucket(rate=0.5, burst=2)))
    assert send(app, f"/robots/{code}").status_code == 200
    assert send(app, f"/robots/{code}/export/canonical").status_code == 200
    assert_limited(send(app, f"/robots/{code}/export/aas"))
    assert_limited(send(app, "/"))


def test_callers_with_tokens_are_charged_by_identity_with_their_own_class(store, tmp_path):
    anonymous, authenticated = Bucket(rate=0.5, burst=1), Bucket(rate=0.5, burst=3)
    still = MemoryBuckets(clock=lambda: 0.0)  # no refill on a loaded machine: a 2 s pause was one
    app = app_with(store, limits(anonymous, authenticated, still), tmp_path)
    buyer = {"authorization": f"Bearer {issue_token('used-robot-buyer', tmp_path, ISSUER)}"}
    again = {"authorization": f"Bearer {issue_token('used-robot-buyer', tmp_path, ISSUER)}"}
    owner = {"authorization": f"Bearer {issue_token('fleet-owner', tmp_path, ISSUER)}"}
    assert send(app).status_code == 200
    assert_limited(send(app))
    assert [send(app, headers=buyer).status_code for _ in range(2)] == [200, 200]
    assert send(app, headers=again).status_code == 200, "a new token is the same caller"
    assert_limited(send(app, headers=buyer))
    assert_limited(send(app, headers=again))
    assert send(app, headers=owner).status_code == 200, "another client has its own bucket"


def test_a_bad_token_is_charged_to_the_address_and_still_refused_401(store, tmp_path) -> None:
    app = app_with(store, limits(Bucket(rate=0.5, burst=2)), tmp_path)
    forged = {"authorization": "Bearer not.a.token"}
    assert send(app, headers=forged).status_code == 401
    assert send(app).status_code == 200
    assert_limited(send(app, headers=forged))


def test_redis_buckets_are_shared_by_two_app_instances(store, tmp_path, redis_url, prefix):
    import redis

    def shared() -> RateLimits:
        buckets = RedisBuckets(redis_url, prefix=prefix)
        return RateLimits(Bucket(0.5, 2), Bucket(0.5, 3), buckets)

    first, second = app_with(store, shared(), tmp_path), app_with(store, shared(), tmp_path)
    token = issue_token("used-robot-buyer", tmp_path, ISSUER)
    buyer = {"authorization": f"Bearer {token}"}
    assert send(first, headers=buyer).status_code == 200
    assert send(second, headers=buyer).status_code == 200
    assert send(first, headers=buyer).status_code == 200
    seconds = assert_limited(send(second, headers=buyer))
    assert send(first).status_code == 200 and send(second).status_code == 200
    assert_limited(send(first))
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).scan_iter(f"{prefix}*")]
    assert len(keys) == 2, keys
    for secret in (token, "used-robot-buyer", "10.0.0.1", ISSUER):
        assert all(secret not in key for key in keys), "keys are hashes"
    time.sleep(seconds)
    assert send(second, headers=buyer).status_code == 200, "Retry-After honoured via Redis"


def test_redis_retry_after_matches_the_shared_refill(store, redis_url, prefix) -> None:
    buckets = RedisBuckets(redis_url, prefix=prefix)
    app = app_with(store, RateLimits(Bucket(0.4, 1), Bucket(0.4, 1), buckets))
    started = time.monotonic()
    assert send(app).status_code == 200
    seconds = assert_limited(send(app))
    # One token at 0.4/s takes 2.5 s, rounded up to 3. Redis keeps the clock, so time spent
    # between the two requests (a loaded machine) may already have refilled part of it.
    elapsed = time.monotonic() - started
    assert math.ceil(2.5 - elapsed) <= seconds <= 3


def test_unreachable_redis_lets_requests_through_and_counts_it(store) -> None:
    closed = "redis://127.0.0.1:1/0"
    app = app_with(store, RateLimits(Bucket(0.5, 1), Bucket(0.5, 1), RedisBuckets(closed)))
    before = METRICS.registry.get_sample_value("robopass_rate_limit_errors_total") or 0
    assert [send(app).status_code for _ in range(3)] == [200, 200, 200]
    assert METRICS.registry.get_sample_value("robopass_rate_limit_errors_total") == before + 3
