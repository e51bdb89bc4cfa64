"""`POST /robots:conditions` on the registry node: NDJSON samples with a service token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from gateway.store import SqliteStore
from tests.support.node import Node
from tests.support.writing import active, event_count, pick, sample_count

PROBLEM = "application/problem+json"


@pytest.fixture
def node(store: SqliteStore, tmp_path: Path) -> Node:
    return Node(store, "cn-miit", tmp_path / "data")


START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def lines(robots, n: int, start: datetime = START) -> bytes:
    out = []
    for p in robots:
        last = p.condition
        for i in range(n):
            sample = {
                "code": p.code,
                "at": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "operating_hours": last.operating_hours + i,
                "battery_health_pct": 88.5,
                "charge_cycles": last.charge_cycles,
                "movement_precision_mm": 0.25,
                "abnormal_stress_events": last.abnormal_stress_events,
                "joint_wear": [{"joint": "left_knee", "wear_pct": 9.5}],
            }
            out.append(orjson.dumps(sample))
    return b"\n".join(out) + b"\n"


def send(node: Node, body: bytes, key: str | None = "k-1", **kwargs):
    headers = {"content-type": "application/x-ndjson"}
    if key is not None:
        headers["idempotency-key"] = key
    return node.post("/robots:conditions", content=body, headers=headers, **kwargs)


def robots(store, count: int = 2) -> list:
    found = []
    for code in store.codes():
        p = store.record(code).passport
        if active(p) and p.condition is not None:
            found.append(p)
        if len(found) == count:
            return found
    raise AssertionError("too few robots")


def test_ndjson_samples_are_stored_and_chained_per_robot(store, node):
    fleet = robots(store)
    before = event_count(store)
    response = send(node, lines(fleet, 30))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["samples"] == 60
    assert [e["code"] for e in body["events"]] == sorted(p.code for p in fleet)
    assert {e["type"] for e in body["events"]} == {"CONDITIONS_INGESTED"}
    assert (event_count(store), sample_count(store)) == (before + 2, 60)
    for p in fleet:
        assert store.verify_chain(p.code).verified
        (check,) = store.verify_telemetry(p.code, store.events(p.code))
        assert check.verified is True

    again = send(node, lines(fleet, 30))
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["events"] == body["events"]
    assert (event_count(store), sample_count(store)) == (before + 2, 60)
    conflict = send(node, lines(fleet[:1], 30))
    assert conflict.status_code == 409 and conflict.json()["code"] == "IDEMPOTENCY_CONFLICT"


def test_bad_requests_are_refused_and_store_nothing(store, node, tmp_path):
    fleet = robots(store, 1)
    good = lines(fleet, 5)
    bad_value = good.replace(b'"battery_health_pct":88.5', b'"battery_health_pct":188.5', 1)
    cases = [
        (send(node, good, key=None), 400, "BAD_REQUEST"),
        (send(node, b"{not json}\n"), 400, "BAD_REQUEST"),
        (send(node, b"\n"), 400, "BAD_REQUEST"),
        (send(node, b'{"code": "CN123"}\n'), 400, "BAD_ROBOT_CODE"),
        (send(node, bad_value), 422, "EVENT_REJECTED"),
        (send(node, good, token=None), 401, "UNAUTHENTICATED"),
        (send(node, good, token=node.token("node-reader")), 403, "FORBIDDEN"),
        (
            node.post("/robots:conditions", content=good, headers={"idempotency-key": "x"}),
            400,
            "BAD_REQUEST",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] == code
    rejected = cases[4][0].json()
    assert (rejected["rule"], rejected["field"]) == ("range.percent", "samples[0].batteryHealthPct")
    assert sample_count(store) == 0


def test_an_unknown_robot_is_404(store, node):
    p = pick(store, active)
    unknown = "CNH7K2H0A1B32605281000012345A"
    assert store.record(unknown) is None
    body = lines([p], 1).replace(p.code.encode(), unknown.encode())
    response = send(node, body)
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert sample_count(store) == 0
