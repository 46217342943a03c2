"""A pure ASGI middleware: the request id, the HTTP server span and one log line per request.

Pure ASGI rather than BaseHTTPMiddleware, which buffers and breaks streamed (SSE) responses.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.observability.context import bound_request_id, new_request_id, valid_request_id

HEADER = "x-request-id"
log = logging.getLogger("deskpilot.http")
tracer = trace.get_tracer("deskpilot.http")


class RequestContextMiddleware:
    """Takes X-Request-ID when the client sends a valid one, otherwise makes one, and returns it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = _header(scope, HEADER)
        request_id = sent if sent is not None and valid_request_id(sent) else new_request_id()
        method, path = scope["method"], scope["path"]
        status = {"code": 500, "started": False}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.encode()]
                message = {**message, "headers": [*headers, (HEADER.encode(), request_id.encode())]}
            await send(message)

        # The query string is left out of spans and logs: a search or a filter can quote a customer.
        attributes = {"http.request.method": method, "url.path": path, "deskpilot.request_id": request_id}
        with (
            bound_request_id(request_id),
            tracer.start_as_current_span(
                f"{method} {path}",
                kind=SpanKind.SERVER,
                attributes=attributes,
                record_exception=False,  # an exception's text can quote a customer
                set_status_on_exception=False,
            ) as span,
        ):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                if status["started"]:
                    raise
                # Answered here rather than by Starlette's outermost handler, so a 500 carries its id too.
                log.error("unhandled error: %s", type(error).__name__)
                body = error_body("internal_error", "something went wrong on our side", request_id=request_id)
                await JSONResponse(body, status_code=500)(scope, receive, send_with_id)
            finally:
                route = _route(scope)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status["code"])
                if status["code"] >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                log.info(
                    "%s %s %d",
                    method,
                    route or path,
                    status["code"],
                    extra={
                        "http_method": method,
                        "http_path": path,
                        "http_status": status["code"],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            try:
                return str(value.decode("ascii"))
            except UnicodeDecodeError:
                return None
    return None


def _route(scope: Scope) -> str | None:
    route: Any = scope.get("route")
    return getattr(route, "path", None)
