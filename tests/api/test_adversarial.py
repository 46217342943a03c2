"""Defects found by an adversarial run, each pinned by a test: slow models, odd dates, nesting, bad bytes."""

from __future__ import annotations

from typing import Any

from tests.conftest import bearer, make_client, online
from tests.support import Hang, Reply, Structured

TRIAGE = {"queue": "billing", "priority": "high", "intent": "payment_issue", "language": "en",
          "sentiment": "negative", "confidence": 0.9}


def hanging(settings: Any, stub: Any, then: Any) -> Any:
    """A model that answers only after 60 s, inside its attempt timeout and its own deadline: only the
    turn's budget can make the caller stop waiting for it."""
    stub.default = Hang(60, then=then)
    return online(settings, stub, llm_timeout_s=90.0, llm_deadline_s=90.0, turn_deadline_s=4.0)


def test_a_hanging_model_still_answers_within_the_turn_deadline(
    settings: Any, openai_stub: Any, seeded_engine: Any
) -> None:
    headers = bearer(seeded_engine)
    with make_client(hanging(settings, openai_stub, Reply("too late")), seeded_engine) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]
        response = client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": "How long do refunds take?"},
            headers=headers,
        )
        turns = client.get(f"/v1/conversations/{conversation}", headers=headers).json()["turns"]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "deskpilot-offline" and body["degraded"] is True and body["reply"].strip()
    assert [t["status"] for t in turns] == ["done"]
    assert [r.json["model"] for r in openai_stub.chat_requests] == ["gpt-4o"]  # tried, then cut


def test_a_hanging_model_leaves_triage_to_the_offline_classifier(
    settings: Any, openai_stub: Any, engine: Any
) -> None:
    headers = bearer(engine, scopes=("integration",))
    with make_client(hanging(settings, openai_stub, Structured(TRIAGE)), engine) as client:
        response = client.post("/v1/triage", json={"text": "I was charged twice!"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "deskpilot-offline" and response.json()["degraded"] is True
    assert len(openai_stub.chat_requests) == 1


def test_the_turn_budget_skips_network_models_once_spent() -> None:
    import asyncio

    from langchain_core.messages import HumanMessage

    from agent.deadline import deadline
    from agent.llm import build_model_chain

    chain = build_model_chain(
        tools=[], api_key="sk-test", model="gpt-4o", fallback_models=["gpt-4o-mini"],
        base_url="http://127.0.0.1:9/v1", timeout_s=30, max_retries=0, max_tokens=64, temperature=0,
    )

    async def ask() -> Any:
        with deadline(1.0):  # less than the offline reserve: no network model may start
            return await chain.ainvoke([HumanMessage(content="hello")])

    reply = asyncio.run(ask())
    assert reply.response_metadata["deskpilot_model"] == "deskpilot-offline"
    assert reply.response_metadata["fallback_from"] == ["gpt-4o: turn deadline", "gpt-4o-mini: turn deadline"]
