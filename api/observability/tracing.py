"""OpenTelemetry traces, exported over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Without it no provider is installed and every span is the API's no-op span: nothing is recorded or
sent. Span names and attributes carry ids, models, counts and statuses, never message text.
"""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from api.observability.context import current_request_id

log = logging.getLogger(__name__)
REQUEST_ID_ATTRIBUTE = "deskpilot.request_id"
_installed: TracerProvider | None = None


class RequestIdSpanProcessor(SpanProcessor):
    """Puts the request id on every span started under it, so one id finds the whole trace's parts."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if request_id := current_request_id():
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)

    def on_end(self, span: ReadableSpan) -> None:
        pass


def build_provider(exporter: SpanExporter, *, service_name: str = "deskpilot") -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(RequestIdSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def install_provider(provider: TracerProvider) -> TracerProvider:
    """Makes `provider` the process's tracer provider; OpenTelemetry allows that once per process."""
    global _installed
    if _installed is None:
        trace.set_tracer_provider(provider)
        _installed = provider
    return _installed


def traces_endpoint(endpoint: str) -> str:
    """The base endpoint of the OTLP convention plus the signal path, as the SDK's own env reading does."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def configure_tracing(endpoint: str | None, *, service_name: str = "deskpilot") -> TracerProvider | None:
    """An OTLP/HTTP exporting provider when `endpoint` is set; None (the no-op tracer) otherwise."""
    if not endpoint:
        return None
    if _installed is not None:
        return _installed
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = build_provider(OTLPSpanExporter(endpoint=traces_endpoint(endpoint)), service_name=service_name)
    log.info("tracing: exporting spans over OTLP/HTTP to %s", traces_endpoint(endpoint))
    return install_provider(provider)
