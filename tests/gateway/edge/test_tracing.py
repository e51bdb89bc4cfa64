"""OpenTelemetry tracing (the `otel` extra): a span per request and per GraphQL operation."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from gateway.edge.tracing import tracer_provider
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.web.app import create_app

PERSON = "Wang Xiuying"
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_request_and_operation_spans_without_query_text(store) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(Services(LocalSource(store), policy=None, tracing=provider))
    query = f'query Owned {{ robots(first: 1, filter: {{owner: "{PERSON}"}}) {{ totalCount }} }}'
    code = store.codes(limit=1)[0]

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            ok = await client.post(
                "/graphql", json={"query": query}, headers={"traceparent": PARENT}
            )
            bad = await client.post("/graphql", json={"query": '{ robot(code: "CN1") { code } }'})
            page = await client.get(f"/robots/{code}")
            return ok, bad, page

    ok, bad, page = asyncio.run(go())
    assert ok.status_code == bad.status_code == page.status_code == 200
    finished = exporter.get_finished_spans()
    spans = {s.name: s for s in finished}
    operation = spans["GraphQL query Owned"]
    (request,) = [s for s in finished if s.context.span_id == operation.parent.span_id]
    assert request.name == "POST /graphql"
    assert operation.parent.span_id == request.context.span_id, "operation inside its request"
    assert format(request.context.trace_id, "032x") == PARENT.split("-")[1], "caller's trace"
    assert request.attributes["http.route"] == "/graphql"
    assert request.attributes["http.response.status_code"] == 200
    assert spans["GET /robots/{code}"].attributes["http.route"] == "/robots/{code}"
    failed = spans["GraphQL query"]
    assert tuple(failed.attributes["graphql.error.codes"]) == ("BAD_ROBOT_CODE",)
    for span in exporter.get_finished_spans():
        text = repr(dict(span.attributes)) + span.name
        assert PERSON not in text and code not in text


def test_unknown_exporter_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="otlp or console"):
        tracer_provider("robopass", "zipkin")
