"""A knowledge base that cannot answer (the Chroma server is down): turns go on without passages."""

from __future__ import annotations

from typing import Any

from tests.conftest import bearer, make_client


class DownKnowledgeBase:
    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise ConnectionError("chroma is down")

    def count(self, tenant: str) -> int:
        raise ConnectionError("chroma is down")


def test_a_turn_answers_without_the_knowledge_base_when_it_is_down(settings: Any, seeded_engine: Any) -> None:
    headers = bearer(seeded_engine, "default", ("agent",))
    with make_client(settings, seeded_engine, knowledge=DownKnowledgeBase()) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()
        reply = client.post(
            f"/v1/conversations/{conversation['id']}/messages",
            json={"content": "How long do refunds take?"},
            headers=headers,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["citations"] == [] and reply.json()["reply"]
        search = client.get("/v1/knowledge/search", params={"q": "refunds"}, headers=headers)
        assert search.status_code == 503 and search.headers["retry-after"] == "1"
        assert search.json()["error"]["code"] == "unavailable"


def test_a_reply_written_without_the_knowledge_base_is_marked_degraded_and_says_so(
    settings: Any, seeded_engine: Any, demo_knowledge: Any
) -> None:
    import json

    from api.fail_soft_kb import KB_NOTICE, KB_UNAVAILABLE
    from tests.helpers import sse_events

    headers = bearer(seeded_engine, "default", ("agent", "admin"))
    question = {"content": "How long do refunds take?"}

    def start(client: Any) -> str:
        created = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers)
        return str(created.json()["id"])

    with make_client(settings, seeded_engine, knowledge=DownKnowledgeBase()) as client:
        conversation = start(client)
        down = client.post(f"/v1/conversations/{conversation}/messages", json=question,
                           headers=headers).json()
        streamed = client.post(f"/v1/conversations/{conversation}/messages", json=question,
                               headers={**headers, "Accept": "text/event-stream"})
        stored = client.get(f"/v1/conversations/{conversation}", headers=headers).json()["messages"]
        completion = client.post("/v1/chat/completions", headers=headers, json={
            "model": "deskpilot", "messages": [{"role": "user", "content": "How long do refunds take?"}],
        }).json()
    with make_client(settings, seeded_engine, knowledge=demo_knowledge) as client:
        up = client.post(f"/v1/conversations/{start(client)}/messages", json=question, headers=headers).json()

    assert down["degraded"] is True and down["degraded_reason"] == KB_UNAVAILABLE
    assert KB_NOTICE in down["reply"]  # the customer is told
    final = json.loads(next(data for kind, data in sse_events(streamed.text) if kind == "final"))
    assert final["degraded"] is True and final["degraded_reason"] == KB_UNAVAILABLE
    assert KB_NOTICE in final["reply"]
    replies = [m for m in stored if m["role"] == "assistant"]
    assert all(m["meta"]["degraded"] and m["meta"]["degraded_reason"] == KB_UNAVAILABLE for m in replies)
    assert KB_NOTICE in completion["choices"][0]["message"]["content"]
    assert completion["deskpilot"]["degraded_reason"] == KB_UNAVAILABLE
    # The knowledge base up: no notice, and a degraded reply (the tests' offline engine) says why else.
    assert KB_NOTICE not in up["reply"] and up["citations"]
    assert up["degraded_reason"] == "model_unavailable"
