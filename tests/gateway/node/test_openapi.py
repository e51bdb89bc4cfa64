"""The published OpenAPI 3.1 document: valid (openapi-spec-validator), complete, and true.

"True" means the node's real answers, errors included, validate against the
schemas the document gives for that route and status.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

from gateway.node.openapi import openapi_document
from gateway.store import SqliteStore
from tests.support.node import UNKNOWN, Node, append_body

METHODS = {"get", "post", "put", "delete"}


@pytest.fixture
def node(store: SqliteStore, tmp_path: Path) -> Node:
    """A node that serves its transparency log too, as `robopass registry serve` does."""
    return Node(store, "cn-miit", tmp_path / "data", log=True)


@pytest.mark.parametrize("log", [True, False])
@pytest.mark.parametrize(("registry", "fmt"), [("cn-heis", "cn-miit"), ("eu-dpp", "aas")])
def test_document_is_valid_openapi_3_1(registry, fmt, log):
    document = openapi_document(registry, fmt, log=log)
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert ("/log/checkpoint" in document["paths"]) is log


CONVERTOR = re.compile(r"\{(\w+):\w+\}")
"""A route's `{name:int}`: OpenAPI writes the parameter as `{name}` and types it."""


@pytest.mark.process
@pytest.mark.parametrize("log", [True, False])
def test_document_describes_exactly_the_routes_served(store, tmp_path, log):
    node = Node(store, "cn-miit", tmp_path / "data", log=log)
    document = node.get("/openapi.json", token=None).json()
    described = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    served = {
        (CONVERTOR.sub(r"{\1}", route.path), method)
        for route in node.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert described == served


def conforms(document: dict, template: str, method: str, response) -> None:
    """The body of `response` validates against the document's schema for its status."""
    where = ["paths", template, method, "responses", str(response.status_code)]
    answer = document["paths"][template][method]["responses"][str(response.status_code)]
    if "$ref" in answer:
        name = answer["$ref"].rsplit("/", 1)[1]
        where, answer = ["components", "responses", name], document["components"]["responses"][name]
    if "content" not in answer:
        assert response.content == b""
        return
    kind = response.headers["content-type"].split(";")[0]
    assert kind in answer["content"], (template, method, response.status_code, kind)
    body = response.text if kind == "text/plain" else response.json()
    pointer = "/".join(
        quote(part.replace("~", "~0").replace("/", "~1"), safe="")
        for part in [*where, "content", kind, "schema"]
    )
    errors = schema_errors(document, pointer, body)
    assert not errors, (template, method, response.status_code, errors[0])


def schema_errors(document: dict, pointer: str, body: object) -> list[str]:
    registry = Registry().with_resource(
        "urn:node", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator({"$ref": f"urn:node#/{pointer}"}, registry=registry)
    return [e.message for e in validator.iter_errors(body)]


def test_the_schemas_can_refuse(node, fleet):
    document = node.get("/openapi.json", token=None).json()
    record = node.get(f"/robots/{fleet[0][0].code}").json()
    record_schema = "components/schemas/Record"
    assert schema_errors(document, record_schema, record) == []
    assert schema_errors(document, record_schema, {**record, "format": "aas"})
    assert schema_errors(document, record_schema, {k: v for k, v in record.items() if k != "head"})


def test_real_answers_match_the_document(node, fleet):
    document = node.get("/openapi.json", token=None).json()
    code = fleet[0][0].code
    key = {"idempotency-key": "doc-1"}
    calls = [
        ("/robots/{code}", "get", node.get(f"/robots/{code}")),
        ("/robots/{code}", "get", node.get(f"/robots/{UNKNOWN}")),
        ("/robots/{code}", "get", node.get("/robots/CN1")),
        ("/robots/{code}", "get", node.get(f"/robots/{code}", token=None)),
        (
            "/robots:batchGet",
            "post",
            node.post("/robots:batchGet", json={"codes": [code, UNKNOWN]}),
        ),
        ("/robots:batchGet", "post", node.post("/robots:batchGet", json={"codes": [code] * 501})),
        (
            "/robots:batchGet",
            "post",
            node.post(
                "/robots:batchGet",
                content=b" " * (2 << 20),
                headers={"content-type": "application/json"},
            ),
        ),
        ("/robots", "get", node.get("/robots", params={"first": 3})),
        ("/robots", "get", node.get("/robots", params={"after": "zz"})),
        ("/robots:count", "get", node.get("/robots:count")),
        ("/robots/{code}/events", "get", node.get(f"/robots/{code}/events")),
        (
            "/robots/{code}/events",
            "post",
            node.post(f"/robots/{code}/events", json=append_body(), headers=key),
        ),
        (
            "/robots/{code}/events",
            "post",
            node.post(f"/robots/{code}/events", json=append_body(), headers=key),
        ),
        (
            "/robots/{code}/events",
            "post",
            node.post(f"/robots/{code}/events", json=append_body(2.0), headers=key),
        ),
        ("/robots/{code}/integrity", "get", node.get(f"/robots/{code}/integrity")),
        ("/changes", "get", node.get("/changes", params={"first": 2})),
        (
            "/links/{code}",
            "put",
            node.call(
                "PUT", f"/links/{UNKNOWN}", json={"home": "eu-dpp", "since": "2026-09-01T00:00:00Z"}
            ),
        ),
        ("/links", "get", node.get("/links")),
        ("/links/{code}", "delete", node.call("DELETE", f"/links/{UNKNOWN}")),
        ("/links/{code}", "delete", node.call("DELETE", f"/links/{UNKNOWN}")),
        ("/healthz", "get", node.get("/healthz", token=None)),
        ("/readyz", "get", node.get("/readyz", token=None)),
        *log_calls(node, code),
    ]
    statuses = set()
    for template, method, response in calls:
        conforms(document, template, method, response)
        statuses.add(response.status_code)
    assert statuses >= {200, 201, 204, 400, 401, 404, 409, 413}


def log_calls(node: Node, code: str) -> list[tuple[str, str, object]]:
    """The transparency log's routes: answers, refusals and proofs out of range."""
    size = len(node.store.log_rows(0, 10**6))
    inclusion = "/log/proof/inclusion"
    consistency = "/log/proof/consistency"
    calls = [
        ("/log/checkpoint", node.get("/log/checkpoint", token=None)),
        ("/log/checkpoint", node.get("/log/checkpoint", params={"x": "1"}, token=None)),
        ("/log/key", node.get("/log/key", token=None)),
        (consistency, node.get(consistency, params={"from": 1, "to": size}, token=None)),
        (consistency, node.get(consistency, params={"from": 2, "to": 1}, token=None)),
        (consistency, node.get(consistency, params={"to": "x"}, token=None)),
        (inclusion, node.get(inclusion, params={"code": code, "sequence": 1})),
        (inclusion, node.get(inclusion, params={"code": code, "sequence": 1, "size": size + 1})),
        (inclusion, node.get(inclusion, params={"code": code})),
        (inclusion, node.get(inclusion, params={"code": code, "sequence": 1}, token=None)),
    ]
    statuses = [response.status_code for _, response in calls]
    assert statuses == [200, 400, 200, 200, 404, 400, 200, 404, 400, 401]
    return [(template, "get", response) for template, response in calls]
