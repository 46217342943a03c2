"""Spans leave over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (a fresh process each time, since
OpenTelemetry takes one tracer provider per process); unset, no provider is installed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import REPO

# The middleware and the tracing set-up as create_app and the worker use them, minus the app's heavy imports.
APP = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from api.observability import RequestContextMiddleware, configure_tracing
from api.settings import Settings

settings = Settings(_env_file=None)
configure_tracing(settings.otel_exporter_otlp_endpoint, service_name=settings.otel_service_name)
app = Starlette(routes=[Route("/healthz", lambda request: PlainTextResponse("ok"))])
app.add_middleware(RequestContextMiddleware)
with TestClient(app) as client:
    assert client.get("/healthz", headers={"X-Request-ID": "rid-otlp-1"}).status_code == 200
print("sdk provider:", isinstance(trace.get_tracer_provider(), TracerProvider))
print("recording:", trace.get_tracer("t").start_span("probe").is_recording())
"""


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Collector.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_app(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DESKPILOT_", "OTEL_"))}
    result = subprocess.run(
        [sys.executable, "-c", APP],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_spans_are_exported_over_otlp_http_when_the_endpoint_is_set(collector: str) -> None:
    out = run_app(OTEL_EXPORTER_OTLP_ENDPOINT=collector, OTEL_SERVICE_NAME="deskpilot-test")
    assert "sdk provider: True" in out and "recording: True" in out
    assert Collector.received, "no spans reached the collector"
    path, content_type, body = Collector.received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    everything = b"".join(body for _, _, body in Collector.received)
    assert (
        b"GET /healthz" in everything
        and b"deskpilot.request_id" in everything
        and b"rid-otlp-1" in everything
    )
    assert b"deskpilot-test" in everything  # the service name


def test_without_the_endpoint_nothing_is_installed_or_sent(collector: str) -> None:
    out = run_app()
    assert "sdk provider: False" in out and "recording: False" in out
    assert Collector.received == []
