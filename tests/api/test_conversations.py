"""The conversation API end to end on a real SQLite file with the offline engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import bearer, make_client
from tests.helpers import sse_events


@pytest.fixture
def client(settings: Any, seeded_engine: Any) -> Any:
    with make_client(settings, seeded_engine) as client:
        yield client


@pytest.fixture
def agent_headers(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, "default", ("agent",))


def dana_orders(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    profile = client.get("/v1/customers/CUS-1001", headers=headers).json()
    return profile["orders"]


def new_conversation(client: Any, headers: dict[str, str], customer: str | None = "CUS-1001") -> str:
    response = client.post(
        "/v1/conversations", json={"customer_id": customer} if customer else {}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_order_status_then_refund_uses_tools_and_is_audited(
    client: Any, agent_headers: dict[str, str], seeded_engine: Any
) -> None:
    delivered = next(o for o in dana_orders(client, agent_headers) if o["status"] == "delivered")
    conversation = new_conversation(client, agent_headers)

    first = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_headers,
        json={"content": f"Where is my order {delivered['order_number']}?"},
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert [c["name"] for c in body["tool_calls"]] == ["lookup_order"]
    assert body["tool_calls"][0]["status"] == "ok"
    assert delivered["order_number"] in body["reply"] and "delivered" in body["reply"]
    assert body["model"] == "deskpilot-offline" and body["degraded"] is True
    assert set(body) >= {
        "conversation_id",
        "reply",
        "citations",
        "tool_calls",
        "model",
        "degraded",
        "usage",
        "redactions",
        "pending_approval",
    }

    second = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_headers,
        json={"content": "Can I get a refund for it?"},
    )
    assert second.status_code == 200, second.text
    refund_call = second.json()["tool_calls"][0]
    assert refund_call["name"] == "lookup_refund"
    assert refund_call["args"] == {"order_number": delivered["order_number"]}

    admin = bearer(seeded_engine, "default", ("admin",))
    events = client.get("/v1/audit", params={"conversation_id": conversation}, headers=admin).json()
    types = [e["type"] for e in reversed(events)]
    assert types == [
        "conversation.created",
        "turn.received",
        "tool.called",
        "reply.sent",
        "turn.received",
        "tool.called",
        "reply.sent",
    ]
    assert client.get("/v1/audit/verify", headers=admin).json()["ok"] is True


def test_history_is_stored(client: Any, agent_headers: dict[str, str]) -> None:
    conversation = new_conversation(client, agent_headers)
    client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_headers,
        json={"content": "How long do refunds take?"},
    )
    history = client.get(f"/v1/conversations/{conversation}", headers=agent_headers).json()
    assert [m["role"] for m in history["messages"]] == ["customer", "assistant"]
    assert history["messages"][0]["content"] == "How long do refunds take?"
    assert history["messages"][1]["meta"]["model"] == "deskpilot-offline"


def test_streaming_sends_tokens_tool_calls_and_final(client: Any, agent_headers: dict[str, str]) -> None:
    order = dana_orders(client, agent_headers)[0]["order_number"]
    conversation = new_conversation(client, agent_headers)
    headers = {**agent_headers, "Accept": "text/event-stream"}
    with client.stream(
        "POST",
        f"/v1/conversations/{conversation}/messages",
        headers=headers,
        json={"content": f"Status of {order}?"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events("".join(response.iter_text()))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "tool_call" and kinds[-1] == "final" and "token" in kinds
    final = json.loads(events[-1][1])
    streamed = "".join(json.loads(data)["delta"] for kind, data in events if kind == "token")
    assert streamed == final["reply"]
    assert final["tool_calls"][0]["name"] == "lookup_order"


def test_customers_for_the_sidebar(client: Any, agent_headers: dict[str, str]) -> None:
    page = client.get("/v1/customers", params={"limit": 5}, headers=agent_headers).json()
    assert len(page["items"]) == 5 and page["total"] >= 50
    profile = client.get("/v1/customers/CUS-1001", headers=agent_headers).json()
    assert profile["customer"]["name"] == "Dana Whitfield"
    assert all(o["order_number"].startswith("ORD-") for o in profile["orders"])
    assert client.get("/v1/customers/CUS-99999", headers=agent_headers).status_code == 404


def test_health_probes(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert client.get("/openapi.json").status_code == 200


def test_metrics_count_turns_and_tools(client: Any, agent_headers: dict[str, str]) -> None:
    order = dana_orders(client, agent_headers)[0]["order_number"]
    conversation = new_conversation(client, agent_headers)
    client.post(f"/v1/conversations/{conversation}/messages", headers=agent_headers,
                json={"content": f"Where is {order}?"})
    text = client.get("/metrics").text
    assert 'deskpilot_turns_total{channel="api",degraded="true",model="deskpilot-offline"} 1.0' in text
    assert 'deskpilot_tool_calls_total{status="ok",tool="lookup_order"} 1.0' in text
    assert "deskpilot_turn_seconds_bucket" in text and "CUS-1001" not in text
