"""The registry node's REST contract (docs/registry-api.md), in process with real tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from gateway.service.export import export_document
from gateway.store import SqliteStore
from gateway.synthetic.fleet import synthetic_fleet
from schema.code import RobotCode
from schema.codec import format_datetime
from schema.events import fold
from schema.source import RobotFilter
from tests.support.node import UNKNOWN, Node, append_body, maintenance
from tests.support.stores import outside

PROBLEM = "application/problem+json"


@pytest.fixture
def node(store: SqliteStore, tmp_path: Path) -> Node:
    return Node(store, "cn-miit", tmp_path / "data")


@pytest.fixture
def eu_node(tmp_path: Path) -> Iterator[Node]:
    store = SqliteStore(tmp_path / "eu.db", registry="eu-dpp")
    for country in ("DE", "FR"):
        store.import_histories(synthetic_fleet(4, seed=3, country=country, registry="eu-dpp"))
    yield Node(store, "aas", tmp_path / "data")
    store.close()


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["title"] and body["detail"] and body["type"]
    return body


def test_one_robot_in_the_native_format_with_its_head_as_etag(node, fleet):
    code = fleet[0][0].code
    response = node.get(f"/robots/{code}")
    assert response.status_code == 200
    record = response.json()
    head = fleet[0][-1]
    assert record["code"] == code and record["registry"] == "cn-heis"
    assert record["format"] == "cn-miit"
    assert record["head"] == {"sequence": head.sequence, "hash": head.hash}
    assert record["document"] == export_document(fold(fleet[0]), "cn-miit")
    assert response.headers["etag"] == f'"{head.hash}"'


def test_if_none_match_with_the_current_head_gives_304(node, fleet):
    code = fleet[0][0].code
    etag = node.get(f"/robots/{code}").headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}'):
        unchanged = node.get(f"/robots/{code}", headers={"if-none-match": header})
        assert unchanged.status_code == 304 and unchanged.content == b""
        assert unchanged.headers["etag"] == etag
    stale = node.get(f"/robots/{code}", headers={"if-none-match": '"0000"'})
    assert stale.status_code == 200


def test_as_of_gives_the_passport_as_it_stood(node, fleet):
    history = next(h for h in fleet if len(h) >= 4)
    code, at = history[0].code, history[2].at
    stood = [e for e in history if e.at <= at]
    response = node.get(f"/robots/{code}", params={"asOf": format_datetime(at)})
    assert response.status_code == 200
    assert "etag" not in response.headers
    record = response.json()
    assert record["head"] == {"sequence": stood[-1].sequence, "hash": stood[-1].hash}
    assert record["document"] == export_document(fold(stood), "cn-miit")
    before = format_datetime(history[0].at.replace(year=2000))
    problem(node.get(f"/robots/{code}", params={"asOf": before}), 404, "NOT_FOUND")
    body = problem(node.get(f"/robots/{code}", params={"asOf": "yesterday"}), 400, "BAD_REQUEST")
    assert "asOf" in body["detail"] and "ISO 8601" in body["detail"]
    no_zone = node.get(f"/robots/{code}", params={"asOf": "2026-01-01T00:00:00"})
    assert "UTC offset" in problem(no_zone, 400, "BAD_REQUEST")["detail"]


def test_the_log_and_chain_of_a_past_view(node, fleet):
    history = max(fleet, key=len)
    code, at = history[0].code, history[len(history) // 2].at
    stood = [e for e in history if e.at <= at]
    until = {"until": format_datetime(at), "first": len(stood)}
    body = node.get(f"/robots/{code}/events", params=until).json()
    assert [e["sequence"] for e in body["events"]] == [e.sequence for e in stood]
    assert body["hasNextPage"] is False, "nothing after the moment counts as a next page"
    fewer = node.get(f"/robots/{code}/events", params={**until, "first": len(stood) - 1})
    assert fewer.json()["hasNextPage"] is True
    chain = node.get(f"/robots/{code}/integrity", params={"through": stood[-1].sequence}).json()
    assert chain["verified"] and chain["length"] == stood[-1].sequence
    assert chain["headHash"] == stood[-1].hash
    bad = node.get(f"/robots/{code}/events", params={"until": "soon"})
    assert "until" in problem(bad, 400, "BAD_REQUEST")["detail"]
    zero = node.get(f"/robots/{code}/integrity", params={"through": "0"})
    assert "through" in problem(zero, 400, "BAD_REQUEST")["detail"]


def test_eu_node_speaks_aas_for_german_and_french_robots(eu_node):
    listed = eu_node.get("/robots", params={"first": 50}).json()["robots"]
    assert {r["code"][:2] for r in listed} == {"DE", "FR"}
    assert len(listed) == 8
    record = listed[0]
    assert record["format"] == "aas" and record["registry"] == "eu-dpp"
    passport = eu_node.store.passport(record["code"])
    assert record["document"] == export_document(passport, "aas")
    assert "assetAdministrationShells" in record["document"]


def test_unknown_and_malformed_codes(node):
    problem(node.get(f"/robots/{UNKNOWN}"), 404, "NOT_FOUND")
    wrong = problem(node.get(f"/robots/{UNKNOWN[:-1]}B"), 400, "BAD_ROBOT_CODE")
    assert wrong["rule"] == "check" and wrong["position"] == 29
    short = problem(node.get("/robots/CN123"), 400, "BAD_ROBOT_CODE")
    assert short["rule"] == "length"
    assert problem(node.get("/robots/XX" + UNKNOWN[2:]), 400, "BAD_ROBOT_CODE")["rule"] == "country"


def test_batch_get_answers_each_code_once_and_lists_the_missing(node, fleet):
    codes = [h[0].code for h in fleet[:3]]
    asked = [codes[0], codes[1], codes[0], UNKNOWN, codes[2], UNKNOWN]
    response = node.post("/robots:batchGet", json={"codes": asked, "asOf": None})
    assert response.status_code == 200
    body = response.json()
    assert [r["code"] for r in body["robots"]] == codes
    assert body["missing"] == [UNKNOWN]
    assert body["robots"][0] == node.get(f"/robots/{codes[0]}").json()


def test_batch_get_refuses_bad_requests(node, fleet):
    code = fleet[0][0].code
    too_many = problem(
        node.post("/robots:batchGet", json={"codes": [code] * 501}), 400, "TOO_MANY_CODES"
    )
    assert "500" in too_many["detail"]
    bad = problem(
        node.post("/robots:batchGet", json={"codes": [code, "CN1"]}), 400, "BAD_ROBOT_CODE"
    )
    assert bad["detail"].startswith("codes[1]") and bad["rule"] == "length"
    for body, words in [
        ({"codes": code}, "list"),
        ({"codes": [1]}, "list"),
        ({}, "'codes' is required"),
        ({"codes": [], "extra": 1}, "unknown member 'extra'"),
        ({"codes": [], "asOf": "soon"}, "asOf"),
        ([], "JSON object"),
    ]:
        detail = problem(node.post("/robots:batchGet", json=body), 400, "BAD_REQUEST")["detail"]
        assert words in detail, (body, detail)
    raw = node.post(
        "/robots:batchGet", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in problem(raw, 400, "BAD_REQUEST")["detail"]


def test_list_pages_by_code_without_gap_or_repeat(node, store):
    seen, after = [], None
    while True:
        params = {"first": 7, **({"after": after} if after else {})}
        page = node.get("/robots", params=params).json()
        assert len(page["robots"]) == len(page["cursors"]) <= 7
        seen += [r["code"] for r in page["robots"]]
        if not page["hasNextPage"]:
            break
        after = page["cursors"][-1]
    assert seen == store.codes()


def test_list_and_count_filter_alike(node, store):
    status = store.passport(store.codes()[0]).identity.status.value
    manufacturer = store.passport(store.codes()[0]).manufacturer.name
    where = RobotFilter(manufacturer=manufacturer, status=status)
    params = {"manufacturer": manufacturer, "status": status}
    listed = node.get("/robots", params={**params, "first": 500}).json()["robots"]
    assert len(listed) == store.count(where) > 0
    assert node.get("/robots:count", params=params).json() == {"count": len(listed)}
    assert node.get("/robots:count").json() == {"count": store.count()}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"first": "0"}, "first must be an integer from 1 to 500"),
        ({"first": "501"}, "first must be an integer from 1 to 500"),
        ({"first": "ten"}, "first must be an integer"),
        ({"after": "bm90IG91cnM"}, "cursor"),
        ({"after": "!!"}, "cursor"),
        ({"status": "HAPPY"}, "status must be one of ACTIVE"),
        ({"colour": "red"}, "unknown query parameter 'colour'"),
    ],
)
def test_list_refuses_bad_parameters(node, params, words):
    detail = problem(node.get("/robots", params=params), 400, "BAD_REQUEST")["detail"]
    assert words in detail


def test_events_page_through_the_log(node, fleet):
    history = max(fleet, key=len)
    code = history[0].code
    first = node.get(f"/robots/{code}/events", params={"first": 2}).json()
    assert [e["sequence"] for e in first["events"]] == [1, 2]
    assert first["hasNextPage"] is True
    event = first["events"][1]
    assert event == {
        "code": code,
        "sequence": 2,
        "at": format_datetime(history[1].at),
        "type": history[1].type.value,
        "payload": history[1].payload,
        "prevHash": history[0].hash,
        "hash": history[1].hash,
        "scheme": 2,
        "salt": history[1].salt,
        "commitment": history[1].commitment,
    }
    rest = node.get(f"/robots/{code}/events", params={"after": 2, "first": 500}).json()
    assert [e["hash"] for e in rest["events"]] == [e.hash for e in history[2:]]
    assert rest["hasNextPage"] is False
    problem(node.get(f"/robots/{UNKNOWN}/events"), 404, "NOT_FOUND")
    bad = node.get(f"/robots/{code}/events", params={"after": "-1"})
    assert "after must be an integer" in problem(bad, 400, "BAD_REQUEST")["detail"]


def test_integrity_reports_a_hand_edit(node, fleet, store):
    code = fleet[0][0].code
    report = node.get(f"/robots/{code}/integrity").json()
    assert report == {
        "length": len(fleet[0]),
        "headHash": fleet[0][-1].hash,
        "verified": True,
        "firstBad": None,
        "reason": None,
    }
    outside(
        store,
        "UPDATE events SET at = ? WHERE code = ? AND sequence = 2",
        ("2020-01-01T00:00:00Z", code),
    )
    broken = node.get(f"/robots/{code}/integrity").json()
    assert broken["verified"] is False and broken["firstBad"] == 2
    problem(node.get(f"/robots/{UNKNOWN}/integrity"), 404, "NOT_FOUND")


def test_changes_follow_the_feed_in_position_order(node, fleet):
    total = sum(len(h) for h in fleet)
    first = node.get("/changes", params={"first": 5}).json()
    positions = [c["position"] for c in first["changes"]]
    assert positions == sorted(positions) and len(positions) == 5
    assert first["lastPosition"] == positions[-1]
    seen, last = positions, first["lastPosition"]
    while True:
        rest = node.get("/changes", params={"after": last, "first": 500}).json()
        if not rest["changes"]:
            break
        seen += [c["position"] for c in rest["changes"]]
        last = rest["lastPosition"]
    assert seen == list(range(1, total + 1)), "registry-wide, gap-free, in order"
    assert rest == {"changes": [], "lastPosition": total}
    code = fleet[0][0].code
    written = node.post(
        f"/robots/{code}/events", json=append_body(), headers={"idempotency-key": "feed-1"}
    ).json()["event"]
    after = node.get("/changes", params={"after": total}).json()
    assert [c["event"] for c in after["changes"]] == [written]
    assert after["lastPosition"] == total + 1
    idle = node.get("/changes", params={"after": after["lastPosition"]}).json()
    assert idle == {"changes": [], "lastPosition": after["lastPosition"]}


def test_append_is_idempotent_by_key(node, fleet, store):
    code = fleet[0][0].code
    key = {"idempotency-key": "maint-2026-10-30"}
    created = node.post(f"/robots/{code}/events", json=append_body(), headers=key)
    assert created.status_code == 201
    event = created.json()["event"]
    assert event["sequence"] == len(fleet[0]) + 1 and event["prevHash"] == fleet[0][-1].hash
    assert store.head(code).hash == event["hash"]
    replay = node.post(f"/robots/{code}/events", json=append_body(), headers=key)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == created.json()
    conflict = node.post(f"/robots/{code}/events", json=append_body(9.0), headers=key)
    problem(conflict, 409, "IDEMPOTENCY_CONFLICT")
    assert store.head(code).sequence == event["sequence"]
    assert node.get(f"/robots/{code}").headers["etag"] == f'"{event["hash"]}"'


def test_bad_appends_store_nothing(node, fleet, store):
    code = fleet[0][0].code
    head = store.head(code)
    path = f"/robots/{code}/events"
    key = {"idempotency-key": "k"}
    missing = problem(node.post(path, json=append_body()), 400, "BAD_REQUEST")
    assert "Idempotency-Key" in missing["detail"]
    rejected = {**append_body(), "payload": {"at": "nonsense"}}
    body = problem(node.post(path, json=rejected, headers=key), 422, "EVENT_REJECTED")
    assert "MAINTENANCE_RECORDED" in body["detail"]
    again = {**append_body(), "type": "REGISTERED"}
    problem(node.post(path, json=again, headers={"idempotency-key": "k2"}), 422, "EVENT_REJECTED")
    for bad, words in [
        ({**append_body(), "type": "PAINTED"}, "type must be one of"),
        ({**append_body(), "at": "2026-10-30"}, "UTC offset"),
        ({**append_body(), "payload": []}, "payload must be a JSON object"),
        ({"type": "MAINTENANCE_RECORDED", "payload": {}}, "'at' is required"),
    ]:
        detail = problem(node.post(path, json=bad, headers=key), 400, "BAD_REQUEST")["detail"]
        assert words in detail
    problem(
        node.post(f"/robots/{UNKNOWN}/events", json=append_body(), headers=key), 404, "NOT_FOUND"
    )
    assert store.head(code) == head
    assert store.event_by_key("k") is None


def test_tokens_and_scopes(node, fleet):
    code = fleet[0][0].code
    none = problem(node.get(f"/robots/{code}", token=None), 401, "UNAUTHENTICATED")
    assert none["detail"]
    assert node.get(f"/robots/{code}", token=None).headers["www-authenticate"].startswith("Bearer")
    forged = node.service[:-4] + ("AAAA" if not node.service.endswith("AAAA") else "BBBB")
    bad = node.get(f"/robots/{code}", token=forged)
    problem(bad, 401, "UNAUTHENTICATED")
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert node.service not in bad.text
    person = node.get(f"/robots/{code}", token=node.token("de-msa"))
    problem(person, 403, "FORBIDDEN")
    assert 'scope="registry:read"' in person.headers["www-authenticate"]
    reader = node.token("node-reader")
    assert node.get(f"/robots/{code}", token=reader).status_code == 200
    write = node.post(
        f"/robots/{code}/events", token=reader, json=append_body(), headers={"idempotency-key": "r"}
    )
    assert (
        'scope="registry:write"'
        in problem(write, 403, "FORBIDDEN")["detail"] + write.headers["www-authenticate"]
    )
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert node.get(path, token=None).status_code == 200, path


def test_metrics_count_requests_by_route_template(node, fleet):
    codes = [h[0].code for h in fleet[:2]]
    for _ in range(3):
        node.post("/robots:batchGet", json={"codes": codes})
    node.get(f"/robots/{codes[0]}")
    node.get(f"/robots/{UNKNOWN}")
    text = node.get("/metrics", token=None).text
    assert (
        'robopass_node_requests_total{method="POST",route="/robots:batchGet",status="200"} 3.0'
        in text
    )
    assert (
        'robopass_node_requests_total{method="GET",route="/robots/{code}",status="200"} 1.0' in text
    )
    assert (
        'robopass_node_requests_total{method="GET",route="/robots/{code}",status="404"} 1.0' in text
    )
    assert 'robopass_node_request_seconds_count{route="/robots:batchGet"} 3.0' in text
    assert not any(code in text for code in [*codes, UNKNOWN])


def test_links_are_put_listed_and_deleted(node, store):
    german = RobotCode.generate("DE", "KR01", "H10001", date(2025, 3, 1), "1", 7).value
    codes = [german, UNKNOWN]
    for code in codes:
        put = node.call(
            "PUT", f"/links/{code}", json={"home": "eu-dpp", "since": "2026-09-01T00:00:00+02:00"}
        )
        assert put.status_code == 200
        assert put.json()["link"]["home"] == "eu-dpp"
    again = node.call(
        "PUT", f"/links/{codes[0]}", json={"home": "jp-reg", "since": "2026-10-01T00:00:00Z"}
    )
    assert again.status_code == 200
    listed = node.get("/links", params={"first": 1}).json()
    assert listed["hasNextPage"] is True and len(listed["links"]) == 1
    every = node.get("/links").json()["links"]
    assert sorted(every, key=lambda x: x["code"]) == every
    assert {x["code"]: x["home"] for x in every} == {codes[0]: "jp-reg", codes[1]: "eu-dpp"}
    assert {x["since"] for x in every} == {"2026-10-01T00:00:00Z", "2026-08-31T22:00:00Z"}
    after = node.get("/links", params={"after": min(codes)}).json()["links"]
    assert [x["code"] for x in after] == [max(codes)]
    assert node.call("DELETE", f"/links/{codes[0]}").status_code == 204
    problem(node.call("DELETE", f"/links/{codes[0]}"), 404, "NOT_FOUND")
    assert [x["code"] for x in node.get("/links").json()["links"]] == [codes[1]]


def test_bad_links_are_refused_and_store_nothing(node, store):
    path = f"/links/{UNKNOWN}"
    since = "2026-09-01T00:00:00Z"
    for body, words in [
        ({"home": "cn-heis", "since": since}, "another registry"),
        ({"home": "EU DPP", "since": since}, "registry id"),
        ({"home": "eu-dpp", "since": "September"}, "since must be an ISO 8601"),
        ({"home": "eu-dpp"}, "'since' is required"),
    ]:
        detail = problem(node.call("PUT", path, json=body), 400, "BAD_REQUEST")["detail"]
        assert words in detail, detail
    problem(
        node.call("PUT", "/links/CN12", json={"home": "eu-dpp", "since": since}),
        400,
        "BAD_ROBOT_CODE",
    )
    reader = node.token("node-reader")
    problem(
        node.call("PUT", path, token=reader, json={"home": "eu-dpp", "since": since}),
        403,
        "FORBIDDEN",
    )
    problem(node.call("DELETE", path, token=reader), 403, "FORBIDDEN")
    bad_after = node.get("/links", params={"after": "CN1"})
    assert problem(bad_after, 400, "BAD_ROBOT_CODE")["detail"].startswith("after")
    assert store.links() == []


def test_a_store_that_fails_is_a_503(node, fleet, store):
    store.close()
    problem(node.get("/readyz", token=None), 503, "STORE_UNAVAILABLE")
    problem(node.get(f"/robots/{fleet[0][0].code}"), 503, "STORE_UNAVAILABLE")
    assert node.get("/healthz", token=None).status_code == 200


def test_malformed_requests_get_problems_naming_the_rule(node, fleet):
    code = fleet[0][0].code
    path = f"/robots/{code}/events"
    key = {"idempotency-key": "m1"}
    as_text = node.post(path, content=b"{}", headers={**key, "content-type": "text/plain"})
    assert "application/json" in problem(as_text, 400, "BAD_REQUEST")["detail"]
    huge = node.post(
        "/robots:batchGet",
        content=b'{"codes": [' + b'"x",' * 300_000 + b'"x"]}',
        headers={"content-type": "application/json"},
    )
    assert "larger than" in problem(huge, 413, "BAD_REQUEST")["detail"]
    spaced = node.post(path, json=append_body(), headers={"idempotency-key": "a b"})
    assert "visible ASCII" in problem(spaced, 400, "BAD_REQUEST")["detail"]
    twice = node.get("/robots?first=2&first=3")
    assert "more than once" in problem(twice, 400, "BAD_REQUEST")["detail"]
    basic = node.get(f"/robots/{code}", token=None, headers={"authorization": "Basic eDp5"})
    problem(basic, 401, "UNAUTHENTICATED")
    assert basic.headers["www-authenticate"].startswith("Bearer ")
    nowhere = problem(node.get("/nowhere"), 404, "NOT_FOUND")
    assert "/nowhere" in nowhere["detail"]
    wrong_method = node.call("PATCH", f"/robots/{code}")
    problem(wrong_method, 405, "BAD_REQUEST")
    assert "GET" in wrong_method.headers["allow"]
    big = node.get("/changes", params={"after": "1" * 40})
    assert "after must be an integer" in problem(big, 400, "BAD_REQUEST")["detail"]
    assert node.store.event_by_key("m1") is None and node.store.event_by_key("a b") is None


def test_appends_keep_the_write_rules_whoever_calls(node, fleet, store):
    """The node checks what the gateway checks: a future maintenance visit is refused."""
    code = fleet[0][0].code
    head = store.head(code)
    future = {**append_body(), "payload": {**maintenance(), "at": "2099-01-01T00:00:00Z"}}
    body = problem(
        node.post(f"/robots/{code}/events", json=future, headers={"idempotency-key": "f"}),
        422,
        "EVENT_REJECTED",
    )
    assert body["rule"] == "time.future" and body["field"].endswith("at")
    assert store.head(code) == head and store.event_by_key("f") is None
