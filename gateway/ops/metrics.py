"""Prometheus metrics of the gateway, one set per process.

Labels are route templates (`/robots/{code}`), methods, statuses, error codes,
caller classes and registry ids: never a robot code, a principal or anything
else a request carries, so the series count stays bounded and no personal
datum reaches a scraper. The federation client reports its upstream calls
through `observe_upstream` and `set_breaker_state`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UNCODED = "UNCODED"


class Counted(Protocol):
    """A cache that counts its hits and misses (`gateway.store.decoded.DecodedPassports`)."""

    hits: int
    misses: int


class _CacheCollector(Collector):
    """Hits and misses summed over the caches of one kind this process watches."""

    def __init__(
        self,
        name: str = "robopass_decoded_passport_cache",
        help: str = "Reads of a current passport answered from the decoded-passport cache, or not",
    ) -> None:
        self.caches: weakref.WeakSet[Any] = weakref.WeakSet()
        self.name = name
        self.help = help

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.help, labels=["result"])
        caches = list(self.caches)
        family.add_metric(["hit"], sum(c.hits for c in caches))
        family.add_metric(["miss"], sum(c.misses for c in caches))
        yield family


class Metrics:
    """The gateway's metrics in a registry of their own (not the library's global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "robopass_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "robopass_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.graphql_errors = Counter(
            "robopass_graphql_errors",
            "Errors in GraphQL responses, by extensions.code",
            ["code"],
            registry=r,
        )
        self.denials = Counter(
            "robopass_policy_denied_fields",
            "Field paths a caller asked for and the policies hid, by surface",
            ["surface"],
            registry=r,
        )
        self.rate_limited = Counter(
            "robopass_rate_limited_requests",
            "Requests refused 429 by the rate limits, by class of caller",
            ["caller"],
            registry=r,
        )
        self.rate_limit_errors = Counter(
            "robopass_rate_limit_errors",
            "Requests let through because the rate limit store could not be reached",
            registry=r,
        )
        self.upstream = Histogram(
            "robopass_upstream_request_duration_seconds",
            "Calls to federated registries, by registry id, route template and outcome",
            ["registry", "route", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.breaker = Gauge(
            "robopass_upstream_breaker_state",
            "Circuit breaker per registry: 0 closed, 1 half-open, 2 open",
            ["registry"],
            registry=r,
        )
        self._caches = _CacheCollector()
        r.register(self._caches)
        self._answers = _CacheCollector(
            "robopass_response_cache",
            "Single-robot queries answered from the response cache, or not (when keepable)",
        )
        r.register(self._answers)

    def watch_cache(self, cache: Counted) -> None:
        """Report this cache's hits and misses (weakly held: a closed store drops out)."""
        self._caches.caches.add(cache)

    def watch_answers(self, cache: Counted) -> None:
        """Report the response cache's hits and misses (`gateway.endpoint.responses`)."""
        self._answers.caches.add(cache)

    def count_errors(self, errors: Iterable[Any]) -> None:
        """One count per error by its `extensions.code`; GraphQL errors or plain dicts."""
        for error in errors:
            extensions = (
                error.get("extensions") if isinstance(error, dict) else error.extensions
            ) or {}
            self.graphql_errors.labels(str(extensions.get("code") or UNCODED)).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


METRICS = Metrics()


def observe_upstream(
    registry: str, route: str, seconds: float, outcome: str, metrics: Metrics = METRICS
) -> None:
    """One call to a federated registry: its id, the route template (`/robots/{code}`),
    how long it took and how it ended (`ok`, `not_found`, `error`, `timeout`, `open`)."""
    metrics.upstream.labels(registry, route, outcome).observe(seconds)


def set_breaker_state(registry: str, state: str, metrics: Metrics = METRICS) -> None:
    """The circuit breaker of a registry is now `closed`, `half_open` or `open`."""
    if state not in BREAKER_STATES:
        raise ValueError(f"breaker state must be one of {', '.join(BREAKER_STATES)}")
    metrics.breaker.labels(registry).set(BREAKER_STATES[state])
