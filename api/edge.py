"""The edge: request body cap, security headers, CORS and trusted proxy headers, as pure ASGI middleware.

Pure ASGI (not BaseHTTPMiddleware) so streamed replies pass through untouched. Outermost first:

    ProxyHeadersMiddleware   X-Forwarded-For/-Proto believed only from DESKPILOT_FORWARDED_ALLOW_IPS
    SecurityHeaders          nosniff, Referrer-Policy, HSTS over TLS, a CSP on HTML without one
    BodyLimit                a body past DESKPILOT_MAX_BODY_BYTES is a 413 before the app reads it all
    CORSMiddleware           only the origins in DESKPILOT_CORS_ORIGINS (none by default)

A request uvicorn cannot parse never reaches the app: `json_http_protocol` makes uvicorn's own 400 answer
JSON too (`deskpilot serve` uses it).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.errors import error_body
from api.settings import Settings

# For HTML pages that set no policy of their own (the API docs; /sidebar sets a stricter one). Swagger UI
# and ReDoc start from an inline script, and ReDoc runs a worker from a blob.
HTML_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def install_edge(app: FastAPI, settings: Settings) -> None:
    """Added last, so each wraps everything added before (Starlette puts the last one outermost)."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "Idempotency-Key"],
            expose_headers=["Retry-After"],
            allow_credentials=False,  # bearer keys, never cookies
            max_age=600,
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts_max_age_s=settings.hsts_max_age_s)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Counts the bytes as they arrive: a declared or actual body past `max_bytes` answers 413 (JSON)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_body("payload_too_large", f"the request body is larger than {self.max_bytes} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json(send, 413, too_large)
            return
        received, tripped, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, tripped
            if tripped:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    tripped = True  # the app sees the client go away and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if tripped and not started:
                return  # whatever the app answers to a cut-off body, the client gets the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not tripped:
                raise
        if tripped and not started:
            await _send_json(send, 413, too_large)


class SecurityHeaders:
    """Adds the headers every answer carries; a header the route set itself (a CSP) is kept."""

    def __init__(self, app: ASGIApp, *, hsts_max_age_s: int) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains".encode() if hsts_max_age_s else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The scheme is https only over TLS, or from a trusted proxy that said so (ProxyHeadersMiddleware).
        over_tls = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                if over_tls and self.hsts:
                    wanted.append((b"strict-transport-security", self.hsts))
                content_type = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    wanted.append((b"content-security-policy", HTML_CSP.encode()))
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _raw_400(message: str) -> bytes:
    body = json.dumps(error_body("bad_request", message)).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class JsonErrorsH11(H11Protocol):
    """uvicorn's h11 protocol, answering a request it cannot parse with our JSON error body."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_raw_400(msg))
        self.transport.close()


class JsonErrorsHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol (the default when installed), with the same JSON 400."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_raw_400(msg))
        self.transport.close()


def json_http_protocol(kind: str = "auto") -> type[asyncio.Protocol]:
    """For `uvicorn.run(http=...)`: httptools when available (as uvicorn's `auto`), else h11."""
    if kind == "h11":
        return JsonErrorsH11
    return JsonErrorsHttpTools
