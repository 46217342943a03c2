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
