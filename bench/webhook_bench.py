"""Helpdesk webhooks with the offline engine: acknowledgement latency (p50/p95 over 200 signed Zendesk
deliveries to a real uvicorn server) and time from delivery to the internal note on a local fake Zendesk."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

DELIVERIES = 200
SEQUENTIAL = (
    20  # deliveries sent one at a time, each waiting for its note: the unloaded delivery-to-note time
)
SECRET = "bench-signing-secret-0123456789"
QUESTIONS = [
    "Where is my order? It has not arrived.",
    "How do I return a tent I bought last week?",
    "Can I get a refund for my order ORD-104233?",
    "Hi, I'm Dana Whitfield (dana.w@example.com). My parcel is late.",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Serving:
    """An ASGI app on 127.0.0.1 from a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Serving:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def fake_zendesk(notes: dict[str, float]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def put(request: Request) -> JSONResponse:
        await request.body()
        notes.setdefault(request.path_params["id"], time.perf_counter())
        return JSONResponse({"ticket": {}})

    return Starlette(routes=[Route("/api/v2/tickets/{id}.json", put, methods=["PUT"])])


def signed(ticket: int, text: str) -> tuple[bytes, dict[str, str]]:
    body = {
        "ticket": {
            "id": str(ticket),
            "subject": "Order question",
            "comment": text,
            "requester": {"name": "Dana Whitfield", "email": "dana.w@example.com"},
        }
    }
    raw = json.dumps(body).encode()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(SECRET.encode(), stamp.encode() + raw, hashlib.sha256).digest())
    return raw, {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": signature.decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Invocation-Id": f"bench-{ticket}",
    }


def run(deliveries: int = DELIVERIES, sequential: int = SEQUENTIAL) -> dict[str, float]:
    import httpx

    from api.main import create_app
    from api.settings import Settings
    from knowledge import DEMO_DOCS_DIR
    from knowledge.ingest import ingest_paths
    from tools.demo_data import seed_demo

    notes: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as home, Serving(fake_zendesk(notes)) as zendesk:
        settings = Settings(_env_file=None, home=Path(home), force_offline=True, job_poll_s=0.05)  # type: ignore[call-arg]
        app = create_app(settings)
        with Serving(app) as deskpilot, httpx.Client(base_url=f"http://127.0.0.1:{deskpilot.port}") as http:
            runtime = app.state.runtime
            seed_demo(runtime.engine, tenant="default", today=date.today())
            ingest_paths(runtime.knowledge, "default", [DEMO_DOCS_DIR])
            integration = runtime.integrations.create(
                tenant="default",
                provider="zendesk",
                config={"base_url": f"http://127.0.0.1:{zendesk.port}", "email": "agent@example.com"},
                secrets={"signing_secret": SECRET, "api_token": "token"},
                actor="bench",
            )
            url = f"/v1/webhooks/zendesk/{integration.id}"

            def deliver(ticket: int) -> tuple[float, float]:
                raw, headers = signed(ticket, QUESTIONS[ticket % len(QUESTIONS)])
                sent = time.perf_counter()
                answer = http.post(url, content=raw, headers=headers)
                assert answer.status_code == 202, answer.text
                return sent, (time.perf_counter() - sent) * 1000

            deliver(0)  # warm-up
            while "0" not in notes:
                time.sleep(0.01)
            unloaded = []
            for ticket in range(1, sequential + 1):
                sent, _ = deliver(ticket)
                while str(ticket) not in notes:
                    time.sleep(0.002)
                unloaded.append((notes[str(ticket)] - sent) * 1000)
            acks, sent_at = [], {}
            first = sequential + 1
            for ticket in range(first, first + deliveries):
                sent_at[ticket], ack = deliver(ticket)
                acks.append(ack)
            deadline = time.monotonic() + 600
            while len([t for t in sent_at if str(t) in notes]) < deliveries and time.monotonic() < deadline:
                time.sleep(0.05)
            burst = [(notes[str(t)] - s) * 1000 for t, s in sent_at.items() if str(t) in notes]
    return {
        "ack_p50_ms": percentile(acks, 0.5),
        "ack_p95_ms": percentile(acks, 0.95),
        "note_p50_ms": percentile(unloaded, 0.5),
        "note_p95_ms": percentile(unloaded, 0.95),
        "burst_note_p50_ms": percentile(burst, 0.5),
        "burst_note_p95_ms": percentile(burst, 0.95),
        "burst_notes": float(len(burst)),
    }


def main() -> None:
    figures = run()
    print(f"webhook acknowledgement ({DELIVERIES} signed Zendesk deliveries, real HTTP, Presidio, SQLite):")
    print(f"  p50 {figures['ack_p50_ms']:.1f} ms, p95 {figures['ack_p95_ms']:.1f} ms")
    print(f"delivery to internal note, one at a time ({SEQUENTIAL}, offline engine, hybrid retrieval):")
    print(f"  p50 {figures['note_p50_ms']:.0f} ms, p95 {figures['note_p95_ms']:.0f} ms")
    print(f"delivery to note during the burst of {DELIVERIES} ({figures['burst_notes']:.0f} notes posted):")
    print(f"  p50 {figures['burst_note_p50_ms']:.0f} ms, p95 {figures['burst_note_p95_ms']:.0f} ms")


if __name__ == "__main__":
    main()
