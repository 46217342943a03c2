"""The edge: body cap (413 JSON, streams untouched), security headers, CORS from settings, trusted proxies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse

from api.edge import HTML_CSP, BodyLimit, SecurityHeaders
from api.models import AuditEvent
from tests.conftest import bearer, make_client


def test_a_body_past_the_cap_answers_413_json(settings: Any, engine: Any) -> None:
    capped = settings.model_copy(update={"max_body_bytes": 2_000})
    headers = {**bearer(engine), "Content-Type": "application/json"}
    big = json.dumps({"customer_id": "CUS-1001", "channel": "api", "external_id": "x" * 5_000})
    with make_client(capped, engine) as client:
        declared = client.post("/v1/conversations", content=big, headers=headers)
        small = client.post("/v1/conversations", json={}, headers=headers)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"
    assert small.status_code == 201


Answer = tuple[int, list[bytes], dict[bytes, bytes]]


async def call(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> Answer:
    """Drives an ASGI app with a body sent in `chunks` and no Content-Length (chunked transfer)."""
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    bodies = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    return start["status"], bodies, dict(start["headers"])


def http_scope(**extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/", "headers": [], "scheme": "http", **extra}


async def echo_length(scope: Any, receive: Any, send: Any) -> None:
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await JSONResponse({"size": size})(scope, receive, send)


def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    app = BodyLimit(echo_length, max_bytes=1_000)
    status, body, _ = asyncio.run(call(app, http_scope(), [b"x" * 600, b"x" * 600]))
    assert status == 413 and json.loads(b"".join(body))["error"]["code"] == "payload_too_large"
    status, body, _ = asyncio.run(call(app, http_scope(), [b"x" * 500, b"x" * 500]))
    assert status == 200 and json.loads(b"".join(body)) == {"size": 1_000}


def test_html_without_a_policy_of_its_own_gets_one_and_an_own_policy_is_kept() -> None:
    async def page(scope: Any, receive: Any, send: Any) -> None:
        own = {"Content-Security-Policy": "default-src 'none'"} if scope["path"] == "/own" else {}
        await HTMLResponse("<p>hi</p>", headers=own)(scope, receive, send)

    app = SecurityHeaders(page, hsts_max_age_s=60)
    _, _, plain = asyncio.run(call(app, http_scope(method="GET", path="/plain"), [b""]))
    _, _, own = asyncio.run(call(app, http_scope(method="GET", path="/own"), [b""]))
    assert plain[b"content-security-policy"] == HTML_CSP.encode()
    assert own[b"content-security-policy"] == b"default-src 'none'"


def test_streamed_responses_pass_through_chunk_by_chunk() -> None:
    async def stream(scope: Any, receive: Any, send: Any) -> None:
        async def parts() -> Any:
            for n in range(3):
                yield f"data: {n}\n\n"

        await StreamingResponse(parts(), media_type="text/event-stream")(scope, receive, send)

    app = SecurityHeaders(BodyLimit(stream, max_bytes=1_000), hsts_max_age_s=60)
    status, bodies, headers = asyncio.run(call(app, http_scope(method="GET"), [b""]))
    assert status == 200
    assert [b for b in bodies if b] == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
    assert headers[b"x-content-type-options"] == b"nosniff"


def test_security_headers_on_every_answer(settings: Any, engine: Any) -> None:
    with make_client(settings, engine) as client:
        health = client.get("/healthz")
        unauthorized = client.get("/v1/usage")
        docs = client.get("/docs")
        sidebar = client.get("/sidebar")
    for response in (health, unauthorized, docs, sidebar):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers  # plain http: no HSTS
    assert "content-security-policy" not in health.headers  # JSON needs none
    assert "content-security-policy" in docs.headers  # the docs' own, or ours when they set none
    # The sidebar's own strict policy is kept, not replaced.
    assert sidebar.headers["content-security-policy"] != HTML_CSP
    assert "frame-ancestors 'self'" in sidebar.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("trusted", "client_host", "forwarded_proto", "hsts"),
    [
        ("127.0.0.1", "127.0.0.1", "https", True),  # our proxy terminated TLS
        ("127.0.0.1", "203.0.113.9", "https", False),  # anyone else's header is ignored
        ("10.0.0.0/8", "10.1.2.3", "https", True),  # a proxy network
        ("127.0.0.1", "127.0.0.1", "http", False),
    ],
    ids=["trusted-proxy", "untrusted-client", "proxy-network", "trusted-plain-http"],
)
def test_hsts_and_forwarded_headers_only_from_trusted_proxies(
    settings: Any, engine: Any, trusted: str, client_host: str, forwarded_proto: str, hsts: bool
) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    proxied = settings.model_copy(update={"forwarded_allow_ips": trusted})
    app = create_app(proxied, engine=engine, redactor=None, knowledge=None)
    headers = {**bearer(engine, scopes=("admin",)), "X-Forwarded-Proto": forwarded_proto,
               "X-Forwarded-For": "198.51.100.7"}
    with TestClient(app, client=(client_host, 40000)) as client:
        response = client.get("/v1/me", headers=headers)
        client.get("/v1/usage", headers={"X-Forwarded-For": "198.51.100.7", "Authorization": "Bearer dp_no"})
    assert ("strict-transport-security" in response.headers) is hsts
    if hsts:
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    # The failed login is recorded with the address a trusted proxy named, else the peer's own.
    with Session(engine) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.type == "auth.failed")).all()
    assert event.payload["client"] == ("198.51.100.7" if client_host != "203.0.113.9" else client_host)


def test_cors_is_closed_by_default_and_opens_to_configured_origins(settings: Any, engine: Any) -> None:
    preflight = {"Origin": "https://desk.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    with make_client(settings, engine) as client:
        closed = client.options("/v1/conversations", headers=preflight)
        closed_get = client.get("/healthz", headers={"Origin": "https://desk.example"})
    opened_settings = settings.model_copy(update={"cors_origins": ["https://desk.example"]})
    with make_client(opened_settings, engine) as client:
        opened = client.options("/v1/conversations", headers=preflight)
        other = client.options("/v1/conversations", headers={**preflight, "Origin": "https://evil.example"})
        simple = client.get("/healthz", headers={"Origin": "https://desk.example"})
    assert "access-control-allow-origin" not in closed.headers
    assert "access-control-allow-origin" not in closed_get.headers
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == "https://desk.example"
    assert "authorization" in opened.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in opened.headers
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == "https://desk.example"


@pytest.mark.parametrize("kind", ["auto", "h11"])
def test_uvicorns_own_answer_to_an_unparsable_request_is_json(kind: str) -> None:
    import socket
    import threading
    import time

    import uvicorn

    from api.edge import json_http_protocol

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(echo_length, host="127.0.0.1", port=port, http=json_http_protocol(kind),
                            log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            raw = b""
            while chunk := connection.recv(65536):
                raw += chunk
    finally:
        server.should_exit = True
        thread.join(timeout=5)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request" and "Invalid HTTP request" in error["message"]
