"""The bundled help centre answers policy questions through the API, with citations of what was used."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import bearer, make_client

QUESTIONS = [
    ("How long does a refund take to reach my card?", "refund"),
    ("Can I return a final sale item?", "final sale"),
    ("What does payment error PAY-1003 mean?", "PAY-1003"),
]


@pytest.mark.parametrize(("question", "topic"), QUESTIONS)
def test_policy_questions_are_answered_with_citations(
    settings: Any, seeded_engine: Any, redactor: Any, demo_knowledge: Any, question: str, topic: str
) -> None:
    headers = bearer(seeded_engine)
    with make_client(settings, seeded_engine, redactor=redactor, knowledge=demo_knowledge) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]
        body = client.post(
            f"/v1/conversations/{conversation}/messages", json={"content": question}, headers=headers
        ).json()
        search = client.get("/v1/knowledge/search", params={"q": question, "k": 3}, headers=headers)
    assert body["citations"], body
    cited = {c["chunk_id"] for c in body["citations"]}
    assert all(c["title"] and c["document_id"] for c in body["citations"])
    assert topic.lower() in body["reply"].lower()
    # Every citation points at a passage the knowledge base really holds for this tenant.
    assert search.status_code == 200
    assert cited <= {p.chunk_id for p in demo_knowledge.search("default", question, k=4)}
