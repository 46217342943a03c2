"""Usage and cost per model call: in each reply, stored, and summed by GET /v1/usage (admin, per tenant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from api.models import UsageRecord
from tests.conftest import bearer, make_client, online
from tests.support import Reply, ToolCalls, Usage

# gpt-4o list prices, USD per million tokens: input 2.50, cached input 1.25, output 10.00.
# 1500 input of which 1280 cached, 20 output: 220 * 2.50 + 1280 * 1.25 + 20 * 10 = 2350 -> $0.00235.
LOOKUP_USAGE, LOOKUP_COST = Usage(1500, 20, cached_tokens=1280), 0.00235
# 1700 input of which 1536 cached, 12 output: 164 * 2.50 + 1536 * 1.25 + 12 * 10 = 2450 -> $0.00245.
ANSWER_USAGE, ANSWER_COST = Usage(1700, 12, cached_tokens=1536), 0.00245



def conversation(client: Any, headers: dict[str, str]) -> str:
    created = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers)
    return str(created.json()["id"])


def tool_turn(client: Any, stub: Any, headers: dict[str, str], conversation_id: str) -> dict[str, Any]:
    """A turn of two model calls: look the order up, then answer."""
    order = client.get("/v1/customers/CUS-1001", headers=headers).json()["orders"][0]["order_number"]
    stub.enqueue(ToolCalls([("lookup_order", {"order_number": order})], usage=LOOKUP_USAGE),
                 Reply("It is on its way.", usage=ANSWER_USAGE))
    response = client.post(f"/v1/conversations/{conversation_id}/messages",
                           json={"content": f"Where is {order}?"}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_reply_carries_tokens_and_exact_cost(settings: Any, openai_stub: Any, seeded_engine: Any) -> None:
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        headers = bearer(seeded_engine)
        usage = tool_turn(client, openai_stub, headers, conversation(client, headers))["usage"]

    first, second = usage["calls"]
    assert (first["input_tokens"], first["cached_tokens"], first["output_tokens"]) == (1500, 1280, 20)
    assert (second["input_tokens"], second["cached_tokens"], second["output_tokens"]) == (1700, 1536, 12)
    assert first["cost_usd"] == pytest.approx(LOOKUP_COST, abs=1e-12)
    assert second["cost_usd"] == pytest.approx(ANSWER_COST, abs=1e-12)
    assert all(c["model"] == "gpt-4o" and c["priced"] and c["latency_ms"] > 0 for c in (first, second))
    assert (usage["input_tokens"], usage["cached_tokens"], usage["output_tokens"]) == (3200, 2816, 32)
    assert usage["cost_usd"] == pytest.approx(LOOKUP_COST + ANSWER_COST, abs=1e-12)
    assert usage["model_calls"] == 2


def test_usage_endpoint_sums_per_tenant_conversation_and_day(settings: Any, openai_stub: Any,
                                                             seeded_engine: Any) -> None:
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        agent = bearer(seeded_engine, "default")
        admin = bearer(seeded_engine, "default", scopes=("admin",))
        acme_agent = bearer(seeded_engine, "acme")
        acme_admin = bearer(seeded_engine, "acme", scopes=("admin",))
        first, second = conversation(client, agent), conversation(client, agent)
        tool_turn(client, openai_stub, agent, first)
        tool_turn(client, openai_stub, agent, first)
        tool_turn(client, openai_stub, agent, second)
        tool_turn(client, openai_stub, acme_agent, conversation(client, acme_agent))

        by_tenant = client.get("/v1/usage", params={"group_by": "tenant"}, headers=admin).json()
        by_conversation = client.get("/v1/usage", params={"group_by": "conversation"}, headers=admin).json()
        by_day = client.get("/v1/usage", params={"group_by": "day"}, headers=admin).json()
        acme = client.get("/v1/usage", headers=acme_admin).json()
        refused = client.get("/v1/usage", headers=agent)
        unknown = client.get("/v1/usage", params={"group_by": "week"}, headers=admin)
        hour = timedelta(hours=1)
        recent = client.get("/v1/usage", params={"since": (datetime.now(UTC) - hour).isoformat()},
                            headers=admin).json()
        later = client.get("/v1/usage", params={"since": (datetime.now(UTC) + hour).isoformat()},
                           headers=admin).json()

    turn = {"model_calls": 2, "input_tokens": 3200, "cached_tokens": 2816, "output_tokens": 32,
            "cost_usd": LOOKUP_COST + ANSWER_COST}

    def times(n: int) -> dict[str, Any]:
        return {key: value * n for key, value in turn.items()}

    def numbers(group: dict[str, Any]) -> dict[str, Any]:
        return {key: pytest.approx(group[key], abs=1e-9) for key in turn}

    (tenant,) = by_tenant["groups"]
    assert tenant["tenant"] == "default" and numbers(tenant) == times(3)
    assert tenant["cached_share"] == round(2816 / 3200, 4)
    per_conversation = {g["conversation"]: numbers(g) for g in by_conversation["groups"]}
    assert per_conversation == {first: times(2), second: times(1)}
    (day,) = by_day["groups"]
    assert day["day"] in {(datetime.now(UTC) - timedelta(minutes=m)).date().isoformat() for m in (0, 5)}
    assert numbers(day) == times(3)
    # Each tenant's admin sees only that tenant's usage.
    (acme_group,) = acme["groups"]
    assert acme_group["tenant"] == "acme" and numbers(acme_group) == times(1)
    assert recent["groups"] == by_tenant["groups"] and later["groups"] == []
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "invalid_request"

    with Session(seeded_engine) as session:
        rows = session.exec(select(UsageRecord)).all()
    assert len(rows) == 8 and {r.tenant for r in rows} == {"default", "acme"}


def test_dated_snapshot_is_sent_as_is_and_priced_as_gpt_4o(settings: Any, openai_stub: Any,
                                                          seeded_engine: Any) -> None:
    pinned = online(settings, openai_stub, model="gpt-4o-2024-11-20", max_output_tokens=256)
    openai_stub.enqueue(Reply("Refunds take 5-10 business days.", usage=LOOKUP_USAGE))
    with make_client(pinned, seeded_engine) as client:
        headers = bearer(seeded_engine)
        reply = client.post(f"/v1/conversations/{conversation(client, headers)}/messages",
                            json={"content": "How long do refunds take?"}, headers=headers).json()

    (sent,) = openai_stub.chat_requests
    assert sent.json["model"] == "gpt-4o-2024-11-20"
    assert sent.json["max_completion_tokens"] == 256  # the per-request output cap from the settings
    assert reply["model"] == "gpt-4o-2024-11-20" and reply["degraded"] is False
    (call,) = reply["usage"]["calls"]
    assert call["priced"] and call["cost_usd"] == pytest.approx(LOOKUP_COST, abs=1e-12)


def test_price_overrides_change_the_cost(settings: Any, openai_stub: Any, seeded_engine: Any) -> None:
    doubled = '{"gpt-4o": {"input": 5.0, "cached_input": 2.5, "output": 20.0}}'
    openai_stub.enqueue(Reply("Refunds take 5-10 business days.", usage=LOOKUP_USAGE))
    with make_client(online(settings, openai_stub, price_overrides=doubled), seeded_engine) as client:
        headers = bearer(seeded_engine)
        reply = client.post(f"/v1/conversations/{conversation(client, headers)}/messages",
                            json={"content": "How long do refunds take?"}, headers=headers).json()
    assert reply["usage"]["cost_usd"] == pytest.approx(2 * LOOKUP_COST, abs=1e-12)
