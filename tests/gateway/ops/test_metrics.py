"""GET /metrics: requests, latency, GraphQL error codes, denials, cache, upstream calls."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.ops.metrics import Metrics, observe_upstream, set_breaker_state
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.web.app import create_app
from policies import AuditLog, PolicySet

ROBOT = "query ($code: RobotCode!) { robot(code: $code) { code condition { batteryHealthPct } } }"


def scrape(app, requests: list[tuple[str, str, dict | None]]) -> tuple[list, dict]:
    """Send `requests` (method, path, JSON body) to `app`, then read /metrics as samples."""

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            answers = [await client.request(m, p, json=b) for m, p, b in requests]
            exposed = await client.get("/metrics")
        return answers, exposed

    answers, exposed = asyncio.run(go())
    assert exposed.status_code == 200
    assert exposed.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(exposed.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return answers, samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def audited(store, tmp_path):
    metrics = Metrics()
    audit = AuditLog(tmp_path / "audit.db")
    app = create_app(Services(LocalSource(store), PolicySet.demo(), audit=audit, metrics=metrics))
    yield app, metrics
    audit.close()


def test_requests_are_counted_by_route_template_never_by_code(store, audited) -> None:
    app, _ = audited
    codes = store.codes(limit=2)
    requests = [("GET", f"/robots/{c}/export/canonical", None) for c in codes]
    requests += [("GET", "/robots/CN0000/export/aas", None), ("GET", "/nowhere/at/all", None)]
    answers, samples = scrape(app, requests)
    assert [a.status_code for a in answers] == [200, 200, 400, 404]
    route = "/robots/{code}/export/{format}"
    assert value(samples, "robopass_http_requests_total", route=route, method="GET", status="200")
    assert (
        value(samples, "robopass_http_requests_total", route=route, method="GET", status="200") == 2
    )
    assert (
        value(samples, "robopass_http_requests_total", route=route, method="GET", status="400") == 1
    )
    assert (
        value(
            samples, "robopass_http_requests_total", route="unmatched", method="GET", status="404"
        )
        == 1
    )
    count = value(
        samples, "robopass_http_request_duration_seconds_count", route=route, method="GET"
    )
    assert count == 3
    labels = {v for (_, ls) in samples for _, v in ls}
    assert not any(c in label for c in codes for label in labels), "no robot code in a label"
    assert all(a.headers["x-request-id"] for a in answers)


def test_graphql_error_codes_and_policy_denials_are_counted(store, audited) -> None:
    app, _ = audited
    code = store.codes(limit=1)[0]
    requests = [
        ("POST", "/graphql", {"query": ROBOT, "variables": {"code": code}}),
        ("POST", "/graphql", {"query": ROBOT, "variables": {"code": code}}),
        ("POST", "/graphql", {"query": '{ robot(code: "CN123") { code } }'}),
        (
            "POST",
            "/graphql",
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
        ),
    ]
    answers, samples = scrape(app, requests)
    denied = answers[0].json()["errors"]
    assert {e["extensions"]["code"] for e in denied} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    errors = "robopass_graphql_errors_total"
    assert value(samples, errors, code="UNAUTHORIZED_FIELD_OR_TYPE") == 2 * len(denied)
    assert value(samples, errors, code="BAD_ROBOT_CODE") == 1
    assert value(samples, errors, code="BAD_REQUEST") == 1, "refused before execution"
    assert value(samples, "robopass_policy_denied_fields_total", surface="graphql") == 2 * len(
        denied
    )


def test_decoded_passport_cache_hits_and_misses(store, audited) -> None:
    app, _ = audited
    code = store.codes(limit=1)[0]
    path = f"/robots/{code}/export/canonical"
    _, first = scrape(app, [("GET", path, None)])
    _, second = scrape(app, [("GET", path, None), ("GET", path, None)])
    name = "robopass_decoded_passport_cache_total"
    assert value(second, name, result="hit") == value(first, name, result="hit") + 2
    assert value(second, name, result="miss") == value(first, name, result="miss")
    assert value(first, name, result="miss") >= 1


def test_upstream_calls_and_breaker_state_for_the_federation(store) -> None:
    metrics = Metrics()
    app = create_app(Services(LocalSource(store), None, metrics=metrics))
    observe_upstream("cn-heis", "/robots/{code}", 0.012, "ok", metrics=metrics)
    observe_upstream("cn-heis", "/robots/{code}", 2.0, "timeout", metrics=metrics)
    set_breaker_state("cn-heis", "open", metrics=metrics)
    _, samples = scrape(app, [])
    name = "robopass_upstream_request_duration_seconds_count"
    assert value(samples, name, registry="cn-heis", route="/robots/{code}", outcome="ok") == 1
    assert value(samples, name, registry="cn-heis", route="/robots/{code}", outcome="timeout") == 1
    assert value(samples, "robopass_upstream_breaker_state", registry="cn-heis") == 2
    with pytest.raises(ValueError, match="breaker state must be one of"):
        set_breaker_state("cn-heis", "ajar", metrics=metrics)
