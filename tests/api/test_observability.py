"""Request ids from the HTTP header through the turn, a job, the audit log, the logs and the spans; spans
with the GenAI attributes and no message text; JSON logs at DEBUG with no raw PII."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlmodel import Session

from api.jobs import Job, JobContext, job_handler
from api.jobs.models import Job as JobRow
from api.observability import configure_logging, current_request_id
from api.observability.tracing import RequestIdSpanProcessor, install_provider
from tests.api.test_pii_canary import CANARIES, MESSAGE, variants
from tests.conftest import bearer, make_client, online
from tests.support import Reply, ToolCalls, Usage

_EXPORTER = InMemorySpanExporter()
GENAI = (
    "gen_ai.operation.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "deskpilot.usage.cached_tokens",
    "deskpilot.request_id",
)
SEEN_BY_JOBS: dict[str, str | None] = {}


@job_handler("test.observe")
async def observe(job: Job, ctx: JobContext) -> None:
    """Records the request id it runs under, in the audit log and a log line."""
    SEEN_BY_JOBS[job.id] = current_request_id()
    logging.getLogger("tests.jobs").info("observed job %s", job.id)
    ctx.runtime.audit.record(tenant=job.tenant, type="test.observed", payload={"job_id": job.id})


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """One in-memory exporter for the process (OpenTelemetry takes one tracer provider per process)."""
    provider = TracerProvider()
    provider.add_span_processor(RequestIdSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    install_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """JSON log lines at DEBUG into a buffer (after the app installed its own handler)."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    yield buffer
    configure_logging(level="WARNING", fmt="text")
    root.setLevel(level)


def capture_json_logs(buffer: io.StringIO) -> None:
    configure_logging(level="DEBUG", fmt="json", stream=buffer)


def log_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def wait_for_span(exporter: InMemorySpanExporter, name: str, timeout_s: float = 10.0) -> list[ReadableSpan]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [s for s in exporter.get_finished_spans() if s.name == name]
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no span {name!r}: {[s.name for s in exporter.get_finished_spans()]}")


def ancestors(span: ReadableSpan, finished: Any) -> list[int]:
    by_id = {s.context.span_id: s for s in finished}
    found = []
    while span.parent is not None:
        found.append(span.parent.span_id)
        if span.parent.span_id not in by_id:
            break
        span = by_id[span.parent.span_id]
    return found


# --- request ids -------------------------------------------------------------------------------------


def test_the_request_id_is_taken_when_valid_and_made_otherwise(settings: Any, seeded_engine: Any) -> None:
    settings = settings.model_copy(update={"max_body_bytes": 10_000})
    with make_client(settings, seeded_engine) as client:
        assert (
            client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"}).headers["x-request-id"]
            == "lb-7f3a.42"
        )
        made = client.get("/healthz").headers["x-request-id"]
        assert made.startswith("req_") and len(made) == 36
        assert client.get("/healthz").headers["x-request-id"] != made
        for bad in ("x" * 129, "has space", "tab\there", ""):
            returned = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
            assert returned.startswith("req_") and returned != bad, bad
        assert (
            client.get("/healthz", headers={"X-Request-ID": "y" * 128}).headers["x-request-id"] == "y" * 128
        )
        # Errors carry it too, so a client can quote it; an unexpected one is answered without its text.
        missing = client.get("/v1/conversations/conv_nope", headers={"X-Request-ID": "err-1"})
        assert missing.status_code == 401 and missing.headers["x-request-id"] == "err-1"

        @client.app.get("/test/boom")
        def boom() -> None:
            raise RuntimeError("Priya Ramanathan's card 4111 1111 1111 1111")

        # Answers from the edge (the body cap) carry it too: the middleware is the outermost one.
        big = client.post(
            "/v1/feedback", content=b"x" * (settings.max_body_bytes + 1), headers={"X-Request-ID": "err-413"}
        )
        assert big.status_code == 413 and big.headers["x-request-id"] == "err-413"

        crashed = client.get("/test/boom", headers={"X-Request-ID": "err-500"})
        assert crashed.status_code == 500 and crashed.headers["x-request-id"] == "err-500"
        assert crashed.json()["error"]["code"] == "internal_error" and "Priya" not in crashed.text
        assert crashed.json()["error"]["details"] == {"request_id": "err-500"}


def test_one_request_id_through_the_turn_a_job_the_audit_log_logs_and_spans(
    settings: Any, seeded_engine: Any, spans: InMemorySpanExporter, json_logs: io.StringIO
) -> None:
    settings = settings.model_copy(update={"job_poll_s": 0.5})
    headers = bearer(seeded_engine, "default", ("agent", "admin"))
    with make_client(settings, seeded_engine) as client:
        runtime = client.app.state.runtime

        @client.app.post("/test/enqueue")
        def enqueue() -> dict[str, str]:  # a channel that hands slow work to a job, as webhooks do
            with Session(runtime.engine) as session:
                job = runtime.jobs.enqueue(session, tenant="default", kind="test.observe", payload={})
                session.commit()
                return {"job_id": job.id}

        capture_json_logs(json_logs)
        order = client.get("/v1/customers/CUS-1001", headers=headers).json()["orders"][0]["order_number"]
        conversation = client.post(
            "/v1/conversations",
            json={"customer_id": "CUS-1001"},
            headers={**headers, "X-Request-ID": "rid-open"},
        ).json()["id"]
        turn = client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": f"Where is {order}?"},
            headers={**headers, "X-Request-ID": "rid-turn"},
        )
        assert turn.status_code == 200 and turn.headers["x-request-id"] == "rid-turn"
        job_id = client.post("/test/enqueue", headers={"X-Request-ID": "rid-job"}).json()["job_id"]
        deadline = time.monotonic() + 10
        while job_id not in SEEN_BY_JOBS and time.monotonic() < deadline:
            time.sleep(0.05)
        events = client.get("/v1/audit", params={"limit": 100}, headers=headers).json()
        events = events["events"] if isinstance(events, dict) else events

    # The job row, the handler's context and its audit event carry the id of the request that enqueued it.
    assert SEEN_BY_JOBS[job_id] == "rid-job"
    with Session(seeded_engine) as session:
        assert session.get(JobRow, job_id).request_id == "rid-job"  # type: ignore[union-attr]
    by_type: dict[str, list[str | None]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event["payload"].get("request_id"))
    assert by_type["conversation.created"] == ["rid-open"]
    assert by_type["turn.received"] == ["rid-turn"] and by_type["reply.sent"] == ["rid-turn"]
    assert by_type["tool.called"] and set(by_type["tool.called"]) == {"rid-turn"}
    assert by_type["test.observed"] == ["rid-job"]
    with make_client(settings, seeded_engine) as again:  # the chain verifies with the ids in the payloads
        assert again.get("/v1/audit/verify", headers=headers).json()["ok"] is True

    # Log lines: the HTTP line and the job's own line, each with its request id.
    lines = log_lines(json_logs)
    http = [line for line in lines if line["logger"] == "deskpilot.http"]
    assert {"rid-open", "rid-turn", "rid-job"} <= {line["request_id"] for line in http}
    turn_line = next(line for line in http if line["request_id"] == "rid-turn")
    assert turn_line["http_status"] == 200 and turn_line["message"].startswith("POST /v1/conversations/{")
    assert "trace_id" in turn_line and isinstance(turn_line["duration_ms"], float)
    assert any(line["logger"] == "tests.jobs" and line["request_id"] == "rid-job" for line in lines)
    done = [line for line in lines if line["logger"] == "api.jobs.runner" and job_id in line["message"]]
    assert done and {line["request_id"] for line in done} == {"rid-job"}  # the runner's own lines too

    # Spans: the HTTP request, the turn under it, the model call and the tool call all share one trace.
    models = wait_for_span(spans, "chat deskpilot-offline")  # the tool call, then the answer
    [turn_span] = wait_for_span(spans, "deskpilot.turn")
    [job_span] = wait_for_span(spans, "job test.observe")
    http_span = next(
        s
        for s in spans.get_finished_spans()
        if s.attributes.get("deskpilot.request_id") == "rid-turn" and s.name.startswith("POST")
    )
    trace_id = http_span.context.trace_id  # type: ignore[union-attr]
    assert format(trace_id, "032x") == turn_line["trace_id"]  # from the log line to the trace
    assert turn_span.context.trace_id == trace_id and {m.context.trace_id for m in models} == {trace_id}  # type: ignore[union-attr]
    assert http_span.context.span_id in ancestors(turn_span, spans.get_finished_spans())  # type: ignore[union-attr]
    assert {m.attributes["deskpilot.request_id"] for m in models} == {"rid-turn"}
    assert {m.attributes["gen_ai.system"] for m in models} == {"deskpilot-offline"}
    assert job_span.attributes["deskpilot.request_id"] == "rid-job"
    assert job_span.attributes["deskpilot.job.id"] == job_id
    assert (
        wait_for_span(spans, "execute_tool lookup_order")[0].attributes["deskpilot.request_id"] == "rid-turn"
    )


def test_spans_carry_the_genai_attributes_and_never_message_text(
    settings: Any,
    seeded_engine: Any,
    redactor: Any,
    demo_knowledge: Any,
    openai_stub: Any,
    spans: InMemorySpanExporter,
) -> None:
    headers = bearer(seeded_engine)
    with make_client(
        online(settings, openai_stub), seeded_engine, redactor=redactor, knowledge=demo_knowledge
    ) as client:
        order = client.get("/v1/customers/CUS-1001", headers=headers).json()["orders"][0]["order_number"]
        openai_stub.enqueue(
            ToolCalls([("lookup_order", {"order_number": order})], usage=Usage(1800, 20, cached_tokens=1536)),
            Reply("Thanks <PERSON_1>, your parcel is on its way.", usage=Usage(2100, 40, cached_tokens=1792)),
        )
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]
        text = MESSAGE.format(order=order)
        response = client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": text},
            headers={**headers, "X-Request-ID": "rid-genai"},
        )
        assert response.status_code == 200, response.text
        reply = response.json()["reply"]
        wait_for_span(spans, "deskpilot.turn")

    finished = spans.get_finished_spans()
    names = [s.name for s in finished]
    for expected in (
        "POST /v1/conversations/{conversation_id}/messages",
        "deskpilot.redact",
        "deskpilot.turn",
        "deskpilot.retrieve",
        "execute_tool lookup_order",
    ):
        assert expected in names, (expected, names)
    calls = [s for s in finished if s.name == "chat gpt-4o"]
    assert len(calls) == 2
    first, second = sorted(calls, key=lambda s: s.start_time or 0)
    assert {key: (first.attributes or {}).get(key) for key in GENAI} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1800,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read_input_tokens": 1536,
        "deskpilot.usage.cached_tokens": 1536,
        "deskpilot.request_id": "rid-genai",
    }
    assert str(first.attributes["gen_ai.response.model"]).startswith("gpt-4o")
    assert second.attributes["gen_ai.usage.input_tokens"] == 2100
    assert second.attributes["gen_ai.usage.cache_read_input_tokens"] == 1792
    tool = next(s for s in finished if s.name == "execute_tool lookup_order")
    assert (
        tool.attributes["gen_ai.tool.name"] == "lookup_order"
        and tool.attributes["deskpilot.tool.status"] == "ok"
    )
    redact = next(s for s in finished if s.name == "deskpilot.redact")
    assert redact.attributes["deskpilot.redactions.PERSON"] >= 1  # counts by type only
    retrieve = next(s for s in finished if s.name == "deskpilot.retrieve")
    assert retrieve.attributes["deskpilot.passages"] >= 1

    # No span, attribute or event carries message text: not the customer's, not the reply, not a canary.
    dumped = json.dumps([json.loads(s.to_json()) for s in finished])
    for value in CANARIES:
        for form in variants(value):
            assert form not in dumped, f"{form!r} in a span"
    for words in ("Where is", "replacement", "parcel is on its way", "still waiting", reply[:30]):
        assert words not in dumped, f"{words!r} in a span"


def test_json_logs_at_debug_carry_no_raw_pii(
    settings: Any,
    seeded_engine: Any,
    redactor: Any,
    demo_knowledge: Any,
    openai_stub: Any,
    json_logs: io.StringIO,
) -> None:
    headers = bearer(seeded_engine)
    with make_client(
        online(settings, openai_stub), seeded_engine, redactor=redactor, knowledge=demo_knowledge
    ) as client:
        capture_json_logs(json_logs)
        order = client.get("/v1/customers/CUS-1001", headers=headers).json()["orders"][0]["order_number"]
        openai_stub.default = lambda body: (
            Reply("Thanks, your order is on its way.")
            if body["messages"][-1]["role"] == "tool"
            else ToolCalls([("lookup_order", {"order_number": order})])
        )
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]
        for content in (MESSAGE.format(order=order), "My email is priya.ramanathan@example.org, got it?"):
            response = client.post(
                f"/v1/conversations/{conversation}/messages",
                json={"content": content},
                headers={**headers, "X-Request-ID": "rid-pii", "Accept": "text/event-stream"},
            )
            assert response.status_code == 200
        client.post(
            "/v1/feedback",
            json={
                "conversation_id": conversation,
                "rating": "down",
                "reason": "Priya Ramanathan says the card 4111 1111 1111 1111 failed",
            },
            headers=headers,
        )
        client.get(
            "/v1/knowledge/search", params={"q": "Priya Ramanathan 742 Evergreen Terrace"}, headers=headers
        )

    lines = log_lines(json_logs)  # every line is JSON
    assert any(line["level"] == "DEBUG" for line in lines)  # DEBUG reached the handler
    assert any(line.get("request_id") == "rid-pii" for line in lines)
    raw = json_logs.getvalue()
    for value in CANARIES:
        for form in variants(value):
            assert form not in raw, f"{form!r} in the logs"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_exceptions_are_logged_by_type_and_stack_without_their_text(fmt: str, json_logs: io.StringIO) -> None:
    configure_logging(level="INFO", fmt=fmt, stream=json_logs)  # type: ignore[arg-type]
    text = "card 4111 1111 1111 1111 of Priya Ramanathan"  # the stack shows source lines, so not inline
    try:
        raise ValueError(text)
    except ValueError:
        logging.getLogger("tests.errors").exception("lookup failed")
    out = json_logs.getvalue()
    assert "lookup failed" in out and "ValueError" in out and "test_observability.py" in out  # type and stack
    assert "4111" not in out and "Priya" not in out
    if fmt == "json":
        [line] = log_lines(json_logs)
        assert line["exc_type"] == "ValueError" and line["request_id"] == "-"
    else:
        assert "[-] lookup failed" in out
