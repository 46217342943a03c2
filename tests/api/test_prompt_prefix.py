"""The request layout is cache-friendly: a byte-identical static prefix and an append-only history.

Two tenants, several conversations and turns (with and without tool calls) go through the whole API to
the local OpenAI-compatible server; the assertions read the request bodies exactly as they were sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from os.path import commonprefix
from typing import Any

import pytest

from agent.prompts import SYSTEM_PROMPT, tool_schemas
from tests.conftest import bearer, make_client, online
from tests.support import Reply, ToolCalls, Usage
from tests.support.openai_items import Item
from tools import TOOLS

ORDER = re.compile(r"ORD-\d{6}")
ACME_SETTINGS = {
    "refund_window_days": 45,
    "max_refund_amount": 120,
    "brand_name": "Acme Outdoors",
    "reply_tone": "formal",
}
DECODER = json.JSONDecoder()


class QueryRetriever:
    """Help-centre search stand-in: the passages depend on the question, so every turn's differ."""

    def search(self, tenant: str, query: str, k: int = 5) -> list[dict[str, Any]]:
        words = re.findall(r"[a-z]+", query.lower())[:6]
        return [
            {
                "chunk_id": f"{word}#{i}",
                "document_id": word,
                "title": f"About {word}",
                "section": "Overview",
                "source": f"{word}.md",
                "text": f"Help-centre text number {i} about {word}.",
                "flagged": False,
            }
            for i, word in enumerate(words[:k])
        ]


def scripted_model(body: dict[str, Any]) -> Item:
    """Stands in for gpt-4o: looks an order up when the customer names one, then answers."""
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        return Reply("Thanks for waiting: I checked the order for you.", usage=Usage(2000, 15, 1920))
    question = next(
        m["content"]
        for m in reversed(messages)
        if m["role"] == "user" and m.get("name") != "reference_documents"
    )
    if order := ORDER.search(question):
        return ToolCalls([("lookup_order", {"order_number": order.group()})], usage=Usage(1900, 20, 1792))
    return Reply("Refunds reach your card within 5-10 business days [1].", usage=Usage(1800, 12, 1664))


@dataclass
class Conversation:
    tenant: str
    id: str
    requests: list[int] = field(default_factory=list)  # indexes into the stub's chat requests


@pytest.fixture
def sent(settings: Any, openai_stub: Any, seeded_engine: Any) -> tuple[list[Conversation], list[str]]:
    """Runs 2 tenants x 2 conversations x 3 turns; returns the conversations and the raw bodies sent."""
    online_settings = online(settings, openai_stub)
    openai_stub.default = scripted_model
    conversations: list[Conversation] = []
    with make_client(online_settings, seeded_engine, knowledge=QueryRetriever()) as client:
        for tenant in ("default", "acme"):
            headers = bearer(seeded_engine, tenant, scopes=("agent", "admin"))
            if (
                tenant == "acme"
            ):  # a shop with its own policy and voice: only the message after the prefix differs
                changed = client.put("/v1/tenant/settings", headers=headers, json=ACME_SETTINGS)
                assert changed.status_code == 200, changed.text
            orders = [
                o["order_number"]
                for o in client.get("/v1/customers/CUS-1001", headers=headers).json()["orders"]
            ]
            for n in range(2):
                created = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers)
                conversation = Conversation(tenant, created.json()["id"])
                conversations.append(conversation)
                turns = [
                    f"Hi, where is my order {orders[n]}?",
                    "How long do refunds take?",
                    f"And what about {orders[n + 2]}?",
                ]
                for text in turns:
                    before = len(openai_stub.chat_requests)
                    response = client.post(
                        f"/v1/conversations/{conversation.id}/messages",
                        json={"content": text},
                        headers=headers,
                    )
                    assert response.status_code == 200, response.text
                    assert response.json()["model"] == "gpt-4o"
                    conversation.requests.extend(range(before, len(openai_stub.chat_requests)))
    raw = [r.raw.decode() for r in openai_stub.chat_requests]
    return conversations, raw


def messages_span(body: str) -> tuple[int, int, list[dict[str, Any]]]:
    """Where the `messages` array sits in the raw body, and the end of its first element."""
    start = body.index('"messages":[') + len('"messages":[')
    first, first_end = DECODER.raw_decode(body, start)
    messages, end = DECODER.raw_decode(body, start - 1)
    assert messages[0] == first
    return first_end, end, messages


def tools_part(body: str) -> str:
    """The raw bytes from the `tools` key to the end of the body (the SDK writes tools last)."""
    return body[body.rindex(',"tools":') :]


def test_the_scenario_ran_with_and_without_tool_calls(sent: tuple[list[Conversation], list[str]]) -> None:
    conversations, raw = sent
    bodies = [json.loads(b) for b in raw]
    assert len(conversations) == 4 and len(raw) == 4 * 5  # per conversation: 2 + 1 + 2 model calls
    assert sum(any(m.get("tool_calls") for m in b["messages"]) for b in bodies) > 0
    assert any(not any(m.get("tool_calls") for m in b["messages"]) for b in bodies)
    # The tenant's policy summary comes right after the static prefix; passages follow the question.
    assert all(b["messages"][1]["role"] == "system" for b in bodies)
    assert all(b["messages"][3]["name"] == "reference_documents" for b in bodies)


def test_shop_policy_follows_the_prefix_and_comes_from_the_settings(
    sent: tuple[list[Conversation], list[str]],
) -> None:
    conversations, raw = sent
    shop = {
        c.tenant: {json.loads(raw[i])["messages"][1]["content"] for i in c.requests} for c in conversations
    }
    assert all(len(summaries) == 1 for summaries in shop.values())  # stable per tenant: it caches too
    (default,), (acme,) = shop["default"], shop["acme"]
    assert "within 30 days" in default and "above 500.00" in default
    assert (
        "Acme Outdoors" in acme and "within 45 days" in acme and "above 120.00" in acme and "Formal" in acme
    )
    assert "30 days" not in SYSTEM_PROMPT and "500" not in SYSTEM_PROMPT  # the numbers are never typed twice


def test_system_message_and_tools_are_byte_identical(sent: tuple[list[Conversation], list[str]]) -> None:
    _, raw = sent
    bodies = [json.loads(b) for b in raw]
    assert bodies[0]["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert bodies[0]["tools"] == json.loads(json.dumps(tool_schemas(TOOLS.values())))
    assert len({json.dumps(b["messages"][0]) for b in bodies}) == 1
    assert len({json.dumps(b["tools"]) for b in bodies}) == 1
    assert len({tools_part(b) for b in raw}) == 1  # the exact bytes, not only the same JSON value
    # The SDK writes model, stream, then messages and tools last: the bytes every request shares must
    # reach at least to the end of the system message, across tenants and conversations. These turns are
    # JSON ones, so the model is asked for whole replies (`stream: false`, no `stream_options`); a
    # streamed turn differs in those two fields only, which are not part of the prompt a provider caches.
    assert all(b["stream"] is False and "stream_options" not in b for b in bodies)
    assert list(bodies[0]) == [
        "model",
        "stream",
        "messages",
        "max_completion_tokens",
        "prompt_cache_key",
        "temperature",
        "tools",
    ]
    system_end, _, _ = messages_span(raw[0])
    assert len(commonprefix(raw)) >= system_end
    assert all(len(commonprefix([a, b])) >= system_end for a in raw for b in raw)


def test_history_is_append_only(sent: tuple[list[Conversation], list[str]]) -> None:
    conversations, raw = sent
    for conversation in conversations:
        for earlier, later in zip(conversation.requests, conversation.requests[1:], strict=False):
            _, earlier_end, earlier_messages = messages_span(raw[earlier])
            _, later_end, later_messages = messages_span(raw[later])
            assert len(later_messages) > len(earlier_messages)
            assert [json.dumps(m) for m in later_messages[: len(earlier_messages)]] == [
                json.dumps(m) for m in earlier_messages
            ]
            # Byte for byte: the later request starts with everything the earlier one sent up to the
            # last message (only the array's closing bracket differs).
            assert raw[later].startswith(raw[earlier][: earlier_end - 1])
            assert len(commonprefix([raw[earlier], raw[later]])) >= earlier_end - 1


def test_turn_context_stays_in_the_history(sent: tuple[list[Conversation], list[str]]) -> None:
    conversations, raw = sent
    last = json.loads(raw[conversations[0].requests[-1]])["messages"]
    references = [m for m in last if m.get("name") == "reference_documents"]
    assert len(references) == 3  # one per turn, each kept where it was appended
    assert "where" in references[0]["content"] and "refunds" in references[1]["content"]


def test_static_part_names_no_tenant_conversation_customer_or_date(
    sent: tuple[list[Conversation], list[str]],
) -> None:
    conversations, raw = sent
    system_end = messages_span(raw[0])[0]
    static = raw[0][:system_end] + tools_part(raw[0])
    history = "".join(body[system_end : body.rindex(',"tools":')] for body in raw)
    varying = {c.id for c in conversations} | {"CUS-1001", "acme"} | set(ORDER.findall(history))
    assert len(varying) > 8  # conversation ids and the order numbers the customers named
    for value in varying:
        assert value not in static, value
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b", static)
    # "default" is a tenant here, and also a JSON-schema keyword in the tool schemas.
    assert "default" not in SYSTEM_PROMPT
    assert static.count("default") == static.count('"default":')


def test_prompt_cache_key_per_tenant(sent: tuple[list[Conversation], list[str]]) -> None:
    conversations, raw = sent
    keys: dict[str, set[str]] = {}
    for conversation in conversations:
        for index in conversation.requests:
            keys.setdefault(conversation.tenant, set()).add(json.loads(raw[index])["prompt_cache_key"])
    # Low traffic: one key per tenant, shared by all its conversations; different tenants, different keys.
    assert all(len(tenant_keys) == 1 for tenant_keys in keys.values())
    assert keys["default"] != keys["acme"]
    for tenant, (key,) in keys.items():
        assert key and tenant not in key
