"""Optional OpenTelemetry tracing (`pip install -e '.[otel]'`): a span per request and
one per GraphQL operation, joined to the caller's trace by its `traceparent` header.

Our own small middleware and extension rather than the generic ones: those record
the URL with its query string and the GraphQL document with its literals, where a
person's name can sit, and a span per resolved field (about 45 for one robot).
Ours record route templates, operation names and types, status and error codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from gateway.edge.observe import route_template

SCOPE = "robopass"


def tracer_provider(service: str, exporter: str, endpoint: str | None = None) -> TracerProvider:
    """A provider exporting in batches: `otlp` (HTTP, needs the OTLP exporter) or `console`."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    chosen: SpanExporter
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        chosen = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    elif exporter == "console":
        chosen = ConsoleSpanExporter()
    else:
        raise ValueError(f"tracing exporter must be otlp or console, not {exporter!r}")
    provider.add_span_processor(BatchSpanProcessor(chosen))
    return provider


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


class RequestSpans:
    """ASGI middleware: one server span per HTTP request, named by method and route."""

    def __init__(self, app: Any, provider: trace.TracerProvider) -> None:
        self.app = app
        self.tracer = provider.get_tracer(SCOPE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_template(getattr(self.app, "routes", []), scope)
        name = f"{scope['method']} {route}"
        parent = propagate.extract(_headers(scope))
        with self.tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", scope["method"])
            span.set_attribute("http.route", route)

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, sending)


def request_spans(app: ASGIApp, provider: trace.TracerProvider) -> RequestSpans:
    return RequestSpans(app, provider)


def operation_spans(provider: trace.TracerProvider) -> Any:
    """A strawberry extension factory: one span per GraphQL operation."""

    tracer = provider.get_tracer(SCOPE)

    class OperationSpan(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            with tracer.start_as_current_span("GraphQL operation") as span:
                yield
                context = self.execution_context
                try:
                    kind = context.operation_type.value
                except Exception:  # a document that did not parse has no type
                    kind = "unknown"
                span.update_name(f"GraphQL {kind} {context.operation_name or ''}".rstrip())
                span.set_attribute("graphql.operation.type", kind)
                if context.operation_name:
                    span.set_attribute("graphql.operation.name", context.operation_name)
                result = context.result
                errors = getattr(result, "errors", None) or context.pre_execution_errors or []
                codes = sorted({str((e.extensions or {}).get("code", "UNCODED")) for e in errors})
                if codes:
                    span.set_attribute("graphql.error.codes", codes)

    return OperationSpan
