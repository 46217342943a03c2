"""POST /v1/triage: offline classifier, gpt-4o structured output, fallback on bad output, scopes, input."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent.triage import classify_offline, triage_response_format
from agent.triage_service import TRIAGE_PROMPT
from tests.conftest import bearer, make_client, online
from tests.support import Fail, Reply, Structured, Usage
from tests.support.openai_items import Item

CHARGED_TWICE = ("I was charged twice for order ORD-100512, $249.99 each time. This is unacceptable, "
                 "fix it immediately!")
CANCEL_ES = "Hola, quiero cancelar mi pedido ORD-101010, ya no lo necesito. Gracias"
# What the stand-in for gpt-4o answers: deliberately unlike the offline result, to tell them apart.
MODEL_TRIAGE = {"queue": "billing", "priority": "high", "intent": "payment_issue", "language": "en",
                "sentiment": "negative", "confidence": 0.93}



def post(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/triage", json=body, headers=headers)


def audit_events(client: Any, engine: Any) -> list[dict[str, Any]]:
    admin = bearer(engine, scopes=("admin",))
    return list(client.get("/v1/audit", params={"type": "triage.classified"}, headers=admin).json())


def test_offline_classification(settings: Any, engine: Any) -> None:
    with make_client(settings, engine) as client:
        headers = bearer(engine, scopes=("integration",))
        charged = post(client, headers, text=CHARGED_TWICE)
        cancel = post(client, headers, text=CANCEL_ES)
        events = audit_events(client, engine)

    assert charged.status_code == 200 and cancel.status_code == 200
    assert charged.json()["triage"] == classify_offline(CHARGED_TWICE).model_dump()
    labels = {k: v for k, v in charged.json()["triage"].items() if k != "confidence"}
    assert labels == {"queue": "billing", "priority": "urgent", "intent": "payment_issue", "language": "en",
                      "sentiment": "negative"}
    assert (cancel.json()["triage"]["intent"], cancel.json()["triage"]["language"]) == ("cancellation", "es")
    assert charged.json()["model"] == "deskpilot-offline" and charged.json()["degraded"] is True
    assert charged.json()["usage"]["model_calls"] == 0
    # Audited with labels only: no message text in the trail.
    assert len(events) == 2
    assert {e["payload"]["intent"] for e in events} == {"payment_issue", "cancellation"}
    assert "ORD-1" not in json.dumps(events) and "charged" not in json.dumps(events)


def test_gpt_4o_structured_output(settings: Any, openai_stub: Any, engine: Any) -> None:
    openai_stub.enqueue(Structured(MODEL_TRIAGE, usage=Usage(700, 40, cached_tokens=0)))
    with make_client(online(settings, openai_stub), engine) as client:
        headers = bearer(engine, scopes=("integration",))
        response = post(client, headers, text=CHARGED_TWICE, subject="Double charge")
        usage = client.get("/v1/usage", headers=bearer(engine, scopes=("admin",))).json()
        events = audit_events(client, engine)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["triage"] == MODEL_TRIAGE
    assert body["model"] == "gpt-4o" and body["degraded"] is False
    # 700 input at $2.50/M + 40 output at $10/M.
    assert body["usage"]["cost_usd"] == pytest.approx((700 * 2.5 + 40 * 10) / 1e6, abs=1e-12)
    (sent,) = openai_stub.chat_requests
    request = sent.json
    assert request["model"] == "gpt-4o" and request["response_format"] == triage_response_format()
    assert request["temperature"] == 0 and request["max_completion_tokens"] <= 256
    assert request["messages"][0] == {"role": "system", "content": TRIAGE_PROMPT}
    ticket = f"<ticket>\nSubject: Double charge\n\n{CHARGED_TWICE}\n</ticket>"
    assert request["messages"][1] == {"role": "user", "content": ticket}
    # The call's usage is stored with the rest of the tenant's usage.
    (group,) = usage["groups"]
    assert (group["input_tokens"], group["output_tokens"], group["model_calls"]) == (700, 40, 1)
    assert events[0]["payload"]["model"] == "gpt-4o" and events[0]["payload"]["queue"] == "billing"


@pytest.mark.parametrize("answer", [
    Structured({**MODEL_TRIAGE, "queue": "sales"}),
    Structured({k: v for k, v in MODEL_TRIAGE.items() if k != "priority"}),
    Structured({**MODEL_TRIAGE, "confidence": 7}),
    Reply("billing, I think"),
    Fail(500),
], ids=["unknown-queue", "missing-field", "confidence-out-of-range", "not-json", "http-500"])
def test_invalid_or_failed_model_answer_falls_back_offline(answer: Item, settings: Any, openai_stub: Any,
                                                           engine: Any) -> None:
    openai_stub.enqueue(answer)
    with make_client(online(settings, openai_stub), engine) as client:
        response = post(client, bearer(engine, scopes=("integration",)), text=CHARGED_TWICE)

    assert response.status_code == 200
    assert len(openai_stub.chat_requests) == 1
    assert response.json()["triage"] == classify_offline(CHARGED_TWICE).model_dump()
    assert response.json()["model"] == "deskpilot-offline" and response.json()["degraded"] is True


def test_breaker_skips_a_failing_model(settings: Any, openai_stub: Any, engine: Any) -> None:
    openai_stub.default = Fail(500)
    with make_client(online(settings, openai_stub, breaker_failure_threshold=2), engine) as client:
        headers = bearer(engine, scopes=("integration",))
        replies = [post(client, headers, text=CANCEL_ES).json() for _ in range(4)]
    assert len(openai_stub.chat_requests) == 2  # then the breaker is open: classified offline straight away
    assert all(r["model"] == "deskpilot-offline" for r in replies)


def test_no_personal_data_reaches_the_model(settings: Any, openai_stub: Any, engine: Any,
                                            triage_redactor: Any) -> None:
    def answer(body: dict[str, Any]) -> Item:
        return Structured(classify_offline(body["messages"][-1]["content"]).model_dump())

    openai_stub.default = answer
    text = ("Hi, this is Priya Ramanathan (priya.ramanathan@example.org, +1 415-555-0199). "
            "You charged my card twice for ORD-100512, please refund one of them.")
    with make_client(online(settings, openai_stub), engine, redactor=triage_redactor) as client:
        response = post(client, bearer(engine, scopes=("integration",)), text=text,
                        subject="Complaint from Priya Ramanathan")
        events = audit_events(client, engine)

    assert response.status_code == 200 and response.json()["model"] == "gpt-4o"
    assert response.json()["triage"]["intent"] == "payment_issue"
    raw = openai_stub.chat_requests[0].raw.decode()
    for value in ("Priya", "Ramanathan", "priya.ramanathan@example.org", "415-555-0199"):
        assert value not in raw and value not in json.dumps(events)
    assert re.search(r"<PERSON_\d+>", raw) and re.search(r"<EMAIL_\d+>", raw)
    assert events[0]["payload"]["redactions"]["PERSON"] >= 1


@pytest.fixture(scope="module")
def triage_analyzer() -> Any:
    from agent.pii import build_analyzer

    return build_analyzer()


@pytest.fixture
def triage_redactor(triage_analyzer: Any, engine: Any) -> Any:
    from cryptography.fernet import Fernet

    from agent.pii import PiiVault, Redactor

    return Redactor(triage_analyzer, PiiVault(engine, Fernet.generate_key()))


def test_scopes(settings: Any, engine: Any) -> None:
    expected = {("agent",): 403, ("integration",): 200, ("admin",): 200, ("agent", "integration"): 200}
    with make_client(settings, engine) as client:
        got = {scopes: post(client, bearer(engine, scopes=scopes), text=CANCEL_ES) for scopes in expected}
        anonymous = client.post("/v1/triage", json={"text": CANCEL_ES})
    assert {scopes: response.status_code for scopes, response in got.items()} == expected
    assert got[("agent",)].json()["error"]["code"] == "forbidden"
    assert anonymous.status_code == 401


BAD_BODIES = {
    "missing": {}, "empty": {"text": ""}, "blank": {"text": "   \n"}, "too-long": {"text": "x" * 20_001},
    "not-a-string": {"text": 42}, "unknown-field": {"text": "hi", "extra": 1},
    "long-subject": {"text": "hi", "subject": "s" * 501},
}


def test_bad_input_is_422_json(settings: Any, engine: Any) -> None:
    with make_client(settings, engine) as client:
        headers = bearer(engine, scopes=("integration",))
        responses = {name: client.post("/v1/triage", json=body, headers=headers)
                     for name, body in BAD_BODIES.items()}
        not_json = client.post("/v1/triage", content=b"{text", headers={**headers,
                                                                          "Content-Type": "application/json"})
    for name, response in {**responses, "not-json": not_json}.items():
        assert response.status_code == 422, name
        assert response.json()["error"]["code"] == "invalid_request", name


def test_longest_allowed_text_is_accepted(settings: Any, engine: Any) -> None:
    with make_client(settings, engine) as client:
        text = "where is my order " * 1111  # 19,998 characters
        response = post(client, bearer(engine, scopes=("integration",)), text=text)
    assert response.status_code == 200 and response.json()["triage"]["intent"] == "order_status"
