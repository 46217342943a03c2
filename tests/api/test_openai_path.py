"""The real langchain-openai HTTP path against a local OpenAI-compatible server, through the whole API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import bearer, make_client, online
from tests.helpers import sse_events
from tests.support import Fail, Reply, ToolCalls, Usage


@pytest.fixture
def online_settings(settings: Any, openai_stub: Any) -> Any:
    return online(settings, openai_stub)


@pytest.fixture
def client(online_settings: Any, seeded_engine: Any) -> Any:
    with make_client(online_settings, seeded_engine) as client:
        yield client


def delivered_order(client: Any, headers: dict[str, str]) -> str:
    orders = client.get("/v1/customers/CUS-1001", headers=headers).json()["orders"]
    return str(next(o for o in orders if o["status"] == "delivered")["order_number"])


def test_scripted_tool_call_then_answer(client: Any, openai_stub: Any, seeded_engine: Any) -> None:
    headers = bearer(seeded_engine)
    order = delivered_order(client, headers)
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()[
        "id"
    ]
    openai_stub.enqueue(
        ToolCalls([("lookup_order", {"order_number": order})], usage=Usage(1500, 20, cached_tokens=1280)),
        Reply("Your order has been delivered.", usage=Usage(1700, 12, cached_tokens=1536)),
    )
    body = client.post(
        f"/v1/conversations/{conversation}/messages", json={"content": f"Where is {order}?"}, headers=headers
    ).json()

    assert body["model"] == "gpt-4o" and body["degraded"] is False
    assert body["reply"] == "Your order has been delivered."
    assert body["tool_calls"][0]["name"] == "lookup_order" and body["tool_calls"][0]["status"] == "ok"
    assert body["usage"]["input_tokens"] == 3200 and body["usage"]["cached_tokens"] == 2816
    assert body["usage"]["output_tokens"] == 32

    first, second = (r.json for r in openai_stub.chat_requests)
    assert first["model"] == "gpt-4o" and first["tools"][0]["function"]["name"] == "lookup_order"
    assert first["messages"][0]["role"] == "system"
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"])["order_number"] == order


def test_streaming_over_http(client: Any, openai_stub: Any, seeded_engine: Any) -> None:
    headers = bearer(seeded_engine)
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()[
        "id"
    ]
    openai_stub.enqueue(
        Reply("Refunds reach your card within 5-10 business days.", usage=Usage(1200, 11, cached_tokens=1024))
    )
    with client.stream(
        "POST",
        f"/v1/conversations/{conversation}/messages",
        headers={**headers, "Accept": "text/event-stream"},
        json={"content": "How long do refunds take?"},
    ) as response:
        events = sse_events("".join(response.iter_text()))
    tokens = [json.loads(d)["delta"] for k, d in events if k == "token"]
    final = json.loads(events[-1][1])
    assert len(tokens) > 1 and "".join(tokens) == final["reply"]
    assert final["usage"]["cached_tokens"] == 1024 and final["model"] == "gpt-4o"
    assert openai_stub.chat_requests[0].json["stream"] is True


def test_a_json_turn_asks_for_the_whole_reply_at_once(
    client: Any, openai_stub: Any, seeded_engine: Any
) -> None:
    """Nobody reads a JSON reply as it is written: one response instead of a chunk per token, with the
    messages and tools still sent as built (not walked by the SDK) and the usage still recorded."""
    headers = bearer(seeded_engine)
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()[
        "id"
    ]
    openai_stub.enqueue(
        Reply("Refunds reach your card within 5-10 business days.", usage=Usage(1200, 11, cached_tokens=1024))
    )
    response = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": "How long do refunds take?"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reply"] == "Refunds reach your card within 5-10 business days."
    assert body["usage"]["cached_tokens"] == 1024 and body["model"] == "gpt-4o"
    sent = openai_stub.chat_requests[0].json
    assert not sent.get("stream")
    assert sent["messages"][0]["role"] == "system" and sent["messages"][-1]["role"] == "user"
    assert {tool["function"]["name"] for tool in sent["tools"]} >= {"lookup_order", "search_knowledge"}


def test_model_failure_falls_back_to_offline_engine(
    client: Any, openai_stub: Any, seeded_engine: Any
) -> None:
    headers = bearer(seeded_engine)
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()[
        "id"
    ]
    openai_stub.enqueue(Fail(500))
    response = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": "How long do refunds take?"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json()["model"] == "deskpilot-offline" and response.json()["degraded"] is True


def test_deadline_caps_one_models_budget_including_retries(
    settings: Any, seeded_engine: Any, openai_stub: Any
) -> None:
    from tests.support import Hang

    # The stub answers after 3 s, well inside the 5 s attempt timeout: only the 0.5 s deadline can make
    # the turn fall back to the offline engine.
    slow = online(settings, openai_stub, llm_max_retries=2, llm_timeout_s=5.0, llm_deadline_s=0.5)
    headers = bearer(seeded_engine)
    openai_stub.enqueue(Hang(3.0))
    with make_client(slow, seeded_engine) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]
        body = client.post(
            f"/v1/conversations/{conversation}/messages", json={"content": "hello"}, headers=headers
        ).json()
    assert body["model"] == "deskpilot-offline" and body["degraded"] is True
