"""search_knowledge: the model's own query, through the real openai HTTP path to the local test server.

The model (the scripted local server) asks the help centre with its own words; the result it reads is
redacted like every tool result, numbered after the automatic passages, and a reply citing one of those
numbers cites that passage.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import bearer, make_client, online
from tests.support import Reply, ToolCalls
from tests.support.openai_items import Item

OWN_QUERY = "gift card balance expiry"


def _tool_result(body: dict[str, Any]) -> dict[str, Any]:
    tool = next(m for m in reversed(body["messages"]) if m["role"] == "tool")
    result: dict[str, Any] = json.loads(tool["content"])
    return result


def searching_model(body: dict[str, Any]) -> Item:
    """Searches once with its own query, then answers citing the first passage the search returned."""
    if body["messages"][-1]["role"] != "tool":
        return ToolCalls([("search_knowledge", {"query": OWN_QUERY})])
    found = _tool_result(body).get("passages") or []
    if not found:
        return Reply("I could not find that in the help centre.")
    return Reply(f"Here is what the help centre says [{found[0]['n']}].")


def _turn(client: Any, engine: Any, text: str) -> dict[str, Any]:
    headers = bearer(engine)
    created = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers)
    response = client.post(
        f"/v1/conversations/{created.json()['id']}/messages", json={"content": text}, headers=headers
    )
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def test_the_model_searches_with_its_own_words_and_cites_what_it_found(
    settings: Any, openai_stub: Any, seeded_engine: Any, demo_knowledge: Any
) -> None:
    openai_stub.default = searching_model
    with make_client(online(settings, openai_stub), seeded_engine, knowledge=demo_knowledge) as client:
        reply = _turn(client, seeded_engine, "Hello, I have a question about something I bought.")
    first, second = (json.loads(r.raw) for r in openai_stub.chat_requests[-2:])
    # Appended last: the tools before it keep their bytes in the cached prefix.
    assert first["tools"][-1]["function"]["name"] == "search_knowledge"
    automatic = first["messages"][-1]["content"].count('{"n": ')
    result = _tool_result(second)
    numbers = [p["n"] for p in result["passages"]]
    assert numbers == list(range(automatic + 1, automatic + 1 + len(numbers))) and numbers
    # The search really ran on the model's words: the same query on the knowledge base gives the same top.
    top = demo_knowledge.search("default", OWN_QUERY, k=4)[0]
    assert result["passages"][0]["title"] == top.title
    assert reply["citations"] == [
        {
            "chunk_id": top.chunk_id,
            "document_id": top.document_id,
            "title": top.title,
            "section": top.section,
            "source": top.source,
            "n": automatic + 1,
        }
    ]
    assert [c["name"] for c in reply["tool_calls"]] == ["search_knowledge"]


class LeakyHelpCentre:
    """A help centre whose article names a person and an address, as imported tickets sometimes do."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def search(self, tenant: str, query: str, k: int = 5) -> list[dict[str, Any]]:
        self.queries.append(query)
        return [
            {
                "chunk_id": "gift#0",
                "document_id": "gift",
                "title": "Gift cards",
                "section": "Balance",
                "source": "gift.md",
                "text": "Gift cards never expire. Questions go to Margaret Thornton at "
                "margaret.thornton@example.org.",
                "score": 1.0,
                "flagged": False,
            }
        ]


def test_search_results_are_redacted_before_the_model_reads_them(
    settings: Any, openai_stub: Any, seeded_engine: Any, redactor: Any
) -> None:
    openai_stub.default = searching_model
    centre = LeakyHelpCentre()
    overrides = {"knowledge": centre, "redactor": redactor}
    with make_client(online(settings, openai_stub), seeded_engine, **overrides) as client:
        reply = _turn(client, seeded_engine, "Do gift cards expire?")
    assert OWN_QUERY in centre.queries  # the model's query, next to the automatic one
    # The tool message as sent (the automatic passages are the help centre's own message, not a tool result).
    tool = next(m for m in json.loads(openai_stub.chat_requests[-1].raw)["messages"] if m["role"] == "tool")
    assert "margaret.thornton@example.org" not in tool["content"] and "Thornton" not in tool["content"]
    assert "cards never expire." in tool["content"] and "EMAIL" in tool["content"]
    assert reply["citations"][0]["chunk_id"] == "gift#0"


def test_a_failing_search_is_an_error_result_not_a_failed_turn(
    settings: Any, openai_stub: Any, seeded_engine: Any
) -> None:
    openai_stub.default = searching_model
    with make_client(online(settings, openai_stub), seeded_engine, knowledge=None) as client:
        reply = _turn(client, seeded_engine, "Do gift cards expire?")
    result = _tool_result(json.loads(openai_stub.chat_requests[-1].raw))
    assert result["error"] == "backend_unavailable"
    assert reply["tool_calls"][0]["status"] == "error"
