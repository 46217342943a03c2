"""The ticket REST API: a whole ticket in, a draft with citations, triage and approvals out; notes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_approvals import refundable_order
from tests.conftest import bearer, make_client


@pytest.fixture
def client(settings: Any, seeded_engine: Any, demo_knowledge: Any) -> Any:
    with make_client(settings, seeded_engine, knowledge=demo_knowledge) as test_client:
        yield test_client


@pytest.fixture
def key(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, scopes=("integration",))


def test_suggest_drafts_with_citations_and_triage_and_sends_nothing(client: Any, key: dict[str, str]) -> None:
    body = {
        "ticket": {
            "id": "T-1",
            "subject": "Returning a tent",
            "body": "Hello, how do I return a tent I bought last week?",
            "requester": {"email": "dana.w@example.com", "name": "Dana Whitfield"},
            "history": [{"author": "staff", "text": "Thanks for writing, we are looking into it."}],
        }
    }
    answer = client.post("/v1/tickets/suggest", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["draft"] and out["citations"] and out["triage"]["queue"] in ("returns", "general")
    assert set(out) == {
        "conversation_id",
        "draft",
        "citations",
        "triage",
        "tool_calls",
        "pending_approvals",
        "model",
        "degraded",
        "usage",
    }
    history = client.get(
        f"/v1/conversations/{out['conversation_id']}", headers=bearer(client.app.state.runtime.engine)
    ).json()
    assert history["customer_id"] == "CUS-1001" and history["channel"] == "tickets"
    assert [m["role"] for m in history["messages"]] == ["staff", "customer", "assistant"]
    # The same ticket id continues the same conversation.
    again = client.post("/v1/tickets/suggest", json=body, headers=key).json()
    assert again["conversation_id"] == out["conversation_id"]


def test_a_refund_is_proposed_as_an_approval_never_executed(
    client: Any, key: dict[str, str], seeded_engine: Any
) -> None:
    order = refundable_order(seeded_engine)
    body = {
        "ticket": {"body": f"Please refund my order {order}, it arrived broken."},
        "customer_id": "CUS-1001",
    }
    out = client.post("/v1/tickets/suggest", json=body, headers=key).json()
    assert [a["status"] for a in out["pending_approvals"]] == ["pending"]
    assert (
        out["pending_approvals"][0]["tool"].startswith("issue_refund") or out["pending_approvals"][0]["tool"]
    )
    assert all(c["status"] != "ok" or c["name"] != "issue_refund" for c in out["tool_calls"])


def test_a_whole_ticket_of_20000_characters_is_accepted_and_searched_whole(
    client: Any, key: dict[str, str]
) -> None:
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. " * 250
    ticket = filler[: 20_000 - 100] + " How do I return a tent I bought, and how long does a refund take?"
    out = client.post("/v1/tickets/suggest", json={"ticket": {"body": ticket}}, headers=key)
    assert out.status_code == 200, out.text[:500]
    titles = " ".join(c["title"].lower() for c in out.json()["citations"])
    assert "tent" in titles  # only the last 70 of 20,000 characters mention one
    runtime = client.app.state.runtime
    messages = runtime.conversations.messages(
        tenant="default", conversation_id=out.json()["conversation_id"], restore=True
    )
    assert messages[0].role == "customer" and messages[0].content == ticket  # nothing cut off
    too_long = client.post("/v1/tickets/suggest", json={"ticket": {"body": "x" * 20_001}}, headers=key)
    assert too_long.status_code == 422
    history = [{"author": "customer", "text": "y" * 10_000}]
    split = client.post(
        "/v1/tickets/suggest", json={"ticket": {"body": "x" * 10_001, "history": history}}, headers=key
    )
    assert split.status_code == 413


def test_notes_attach_to_the_ticket_conversation_and_scope_is_required(
    client: Any, key: dict[str, str], seeded_engine: Any
) -> None:
    out = client.post(
        "/v1/tickets/suggest", json={"ticket": {"id": "T-9", "body": "Where is my order?"}}, headers=key
    ).json()
    note = client.post(
        "/v1/tickets/T-9/notes",
        json={"text": "Offer a 10% voucher", "kind": "suggested_action", "author": "rules-engine"},
        headers=key,
    )
    assert note.status_code == 201 and note.json()["conversation_id"] == out["conversation_id"]
    by_id = client.post(
        f"/v1/tickets/{out['conversation_id']}/notes", json={"text": "VIP customer"}, headers=key
    )
    assert by_id.status_code == 201
    messages = client.app.state.runtime.conversations.messages(
        tenant="default", conversation_id=out["conversation_id"], restore=False
    )
    notes = [m for m in messages if m.role == "note"]
    assert [n.content for n in notes] == ["Suggested action: Offer a 10% voucher", "VIP customer"]
    assert notes[0].author == "rules-engine"
    assert client.post("/v1/tickets/T-404/notes", json={"text": "x"}, headers=key).status_code == 404
    other_tenant = bearer(seeded_engine, tenant="acme", scopes=("integration",))
    assert client.post("/v1/tickets/T-9/notes", json={"text": "x"}, headers=other_tenant).status_code == 404
    agent_only = bearer(seeded_engine, scopes=("agent",))
    assert (
        client.post("/v1/tickets/suggest", json={"ticket": {"body": "hi"}}, headers=agent_only).status_code
        == 403
    )
