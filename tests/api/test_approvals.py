"""Refunds behind staff approval, exactly once, through the API; handoff to a human and back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import bearer, make_client
from tools import run_tool
from tools.backends.sql import SqlStoreBackend
from tools.base import ToolContext


@pytest.fixture
def client(settings: Any, seeded_engine: Any) -> Any:
    with make_client(settings, seeded_engine) as client:
        yield client


@pytest.fixture
def agent_key(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, "default", ("agent",))


@pytest.fixture
def approver(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, "default", ("approve",))


def refundable_order(engine: Any, customer: str = "CUS-1001") -> str:
    backend = SqlStoreBackend(engine)
    profile = backend.customer_profile("default", customer)
    assert profile is not None
    ctx = ToolContext(tenant="default", customer_id=customer, backend=backend)
    for order in profile.orders:
        if run_tool("lookup_refund", {"order_number": order.order_number}, ctx)["eligibility"]["eligible"]:
            return order.order_number
    raise AssertionError("the demo customer has no refundable order")


def refunds_of(engine: Any, order: str) -> list[Any]:
    found = SqlStoreBackend(engine).get_order("default", order)
    assert found is not None
    return list(found.refunds)


def request_refund(client: Any, headers: dict[str, str], order: str) -> tuple[str, dict[str, Any]]:
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()[
        "id"
    ]
    response = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=headers,
        json={"content": f"I want a refund for {order}, it arrived damaged."},
    )
    assert response.status_code == 200, response.text
    return conversation, response.json()


def test_refund_request_becomes_a_pending_approval(
    client: Any, agent_key: dict[str, str], approver: dict[str, str], seeded_engine: Any
) -> None:
    order = refundable_order(seeded_engine)
    before = len(refunds_of(seeded_engine, order))
    conversation, body = request_refund(client, agent_key, order)

    assert body["pending_approval"] and "approval" in body["reply"]
    assert [c["name"] for c in body["tool_calls"]] == ["lookup_refund", "issue_refund"]
    assert body["tool_calls"][1]["status"] == "pending_approval"
    assert len(refunds_of(seeded_engine, order)) == before  # nothing moved yet

    pending = client.get("/v1/approvals", params={"status": "pending"}, headers=approver).json()
    assert [a["id"] for a in pending] == [body["pending_approval"]]
    assert pending[0]["tool"] == "issue_refund" and pending[0]["args"]["order_number"] == order
    assert pending[0]["checks"] and pending[0]["conversation_id"] == conversation

    # The copilot cannot approve its own requests: keys without the approve scope get 403.
    assert client.get("/v1/approvals", headers=agent_key).status_code == 403
    assert (
        client.post(
            f"/v1/approvals/{body['pending_approval']}",
            json={"decision": "approve"},
            headers=bearer(seeded_engine, "default", ("agent", "admin", "integration")),
        ).status_code
        == 403
    )
    # A message while the request waits is refused clearly rather than lost.
    blocked = client.post(
        f"/v1/conversations/{conversation}/messages", json={"content": "any news?"}, headers=agent_key
    )
    assert blocked.status_code == 409 and "waiting" in blocked.json()["error"]["message"]


def test_approve_executes_exactly_one_refund_and_tells_the_customer(
    client: Any, agent_key: dict[str, str], approver: dict[str, str], seeded_engine: Any
) -> None:
    order = refundable_order(seeded_engine)
    before = len(refunds_of(seeded_engine, order))
    conversation, body = request_refund(client, agent_key, order)
    approval_id = body["pending_approval"]

    decided = client.post(
        f"/v1/approvals/{approval_id}", json={"decision": "approve", "note": "ok"}, headers=approver
    )
    assert decided.status_code == 200, decided.text
    out = decided.json()
    assert out["approval"]["status"] == "executed" and out["approval"]["decided_by"]
    assert "has been issued" in out["reply"]["reply"] and order in out["reply"]["reply"]
    assert out["reply"]["tool_calls"][0]["name"] == "issue_refund"
    assert len(refunds_of(seeded_engine, order)) == before + 1

    # Repeating the approval is harmless: same state, no second refund, no second reply.
    again = client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=approver)
    assert again.status_code == 200 and again.json()["reply"] is None
    assert len(refunds_of(seeded_engine, order)) == before + 1
    # Changing one's mind afterwards is a conflict.
    assert (
        client.post(f"/v1/approvals/{approval_id}", json={"decision": "reject"}, headers=approver).status_code
        == 409
    )

    history = client.get(f"/v1/conversations/{conversation}", headers=agent_key).json()
    assert "has been issued" in history["messages"][-1]["content"]

    admin = bearer(seeded_engine, "default", ("admin",))
    types = [
        e["type"]
        for e in client.get(
            "/v1/audit", params={"conversation_id": conversation, "limit": 50}, headers=admin
        ).json()
    ]
    for expected in ("approval.requested", "approval.approved", "approval.executed"):
        assert expected in types
    assert client.get("/v1/audit/verify", headers=admin).json()["ok"] is True
    # The conversation goes on normally afterwards.
    assert (
        client.post(
            f"/v1/conversations/{conversation}/messages", json={"content": "thanks!"}, headers=agent_key
        ).status_code
        == 200
    )


def test_reject_tells_the_customer_why(
    client: Any, agent_key: dict[str, str], approver: dict[str, str], seeded_engine: Any
) -> None:
    order = refundable_order(seeded_engine)
    before = len(refunds_of(seeded_engine, order))
    _, body = request_refund(client, agent_key, order)
    out = client.post(
        f"/v1/approvals/{body['pending_approval']}",
        json={"decision": "reject", "note": "The item was used; offer a repair instead."},
        headers=approver,
    ).json()
    assert out["approval"]["status"] == "rejected"
    assert "declined" in out["reply"]["reply"] and "offer a repair" in out["reply"]["reply"]
    assert len(refunds_of(seeded_engine, order)) == before


def test_unknown_and_foreign_approvals_are_not_found(
    client: Any, approver: dict[str, str], agent_key: dict[str, str], seeded_engine: Any
) -> None:
    order = refundable_order(seeded_engine)
    _, body = request_refund(client, agent_key, order)
    acme_approver = bearer(seeded_engine, "acme", ("approve",))
    assert (
        client.post(
            f"/v1/approvals/{body['pending_approval']}", json={"decision": "approve"}, headers=acme_approver
        ).status_code
        == 404
    )
    assert (
        client.post("/v1/approvals/apr_nope", json={"decision": "approve"}, headers=approver).status_code
        == 404
    )
    assert (
        client.post(
            f"/v1/approvals/{body['pending_approval']}", json={"decision": "maybe"}, headers=approver
        ).status_code
        == 422
    )


async def test_two_approvers_at_the_same_moment_make_one_refund(settings: Any, seeded_engine: Any) -> None:
    from api.main import create_app

    agent_key = bearer(seeded_engine, "default", ("agent",))
    approvers = [bearer(seeded_engine, "default", ("approve",)) for _ in range(2)]
    order = refundable_order(seeded_engine)
    before = len(refunds_of(seeded_engine, order))
    app = create_app(settings, engine=seeded_engine, redactor=None, knowledge=None)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            conversation = (
                await client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent_key)
            ).json()["id"]
            body = (
                await client.post(
                    f"/v1/conversations/{conversation}/messages",
                    headers=agent_key,
                    json={"content": f"Please refund {order}, it is broken."},
                )
            ).json()
            approval_id = body["pending_approval"]
            responses = await asyncio.gather(
                *(
                    client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=h)
                    for h in approvers
                )
            )
    assert sorted(r.status_code for r in responses) == [200, 200]
    assert sum(1 for r in responses if r.json()["reply"]) == 1  # the customer is told once
    assert len(refunds_of(seeded_engine, order)) == before + 1


def test_policy_refusal_never_reaches_approval(
    client: Any, agent_key: dict[str, str], approver: dict[str, str], seeded_engine: Any
) -> None:
    backend = SqlStoreBackend(seeded_engine)
    profile = backend.customer_profile("default", "CUS-1001")
    assert profile is not None
    old = next(
        o.order_number
        for o in profile.orders
        if o.status == "delivered"
        and not run_tool(
            "lookup_refund",
            {"order_number": o.order_number},
            ToolContext(tenant="default", customer_id="CUS-1001", backend=backend),
        )["eligibility"]["eligible"]
    )
    conversation = client.post(
        "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent_key
    ).json()["id"]
    body = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_key,
        json={"content": f"I want a refund for {old}"},
    ).json()
    assert body["pending_approval"] is None
    assert all(c["name"] != "issue_refund" or c["status"] == "error" for c in body["tool_calls"])
    assert client.get("/v1/approvals", headers=approver).json() == []


def test_handoff_to_a_human_and_back(client: Any, agent_key: dict[str, str], seeded_engine: Any) -> None:
    order = refundable_order(seeded_engine)
    conversation = client.post(
        "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent_key
    ).json()["id"]
    body = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_key,
        json={"content": "This is unacceptable, I want to speak to a real person now."},
    ).json()
    assert body["tool_calls"][0]["name"] == "escalate_to_human" and body["status"] == "needs_human"
    assert (
        client.get(f"/v1/conversations/{conversation}", headers=agent_key).json()["handoff_reason"]
        == "angry_customer"
    )

    # While a human owns it the copilot only drafts: no tools run, even for a refund request.
    draft = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_key,
        json={"content": f"I want a refund for {order}"},
    ).json()
    assert draft["tool_calls"] == [] and draft["pending_approval"] is None and draft["reply"].strip()

    back = client.post(f"/v1/conversations/{conversation}/handback", headers=agent_key)
    assert back.status_code == 200 and back.json()["status"] == "active"
    assert client.post(f"/v1/conversations/{conversation}/handback", headers=agent_key).status_code == 409
    after = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_key,
        json={"content": f"Where is {order}?"},
    ).json()
    assert after["tool_calls"][0]["name"] == "lookup_order"

    admin = bearer(seeded_engine, "default", ("admin",))
    types = [
        e["type"]
        for e in client.get("/v1/audit", params={"conversation_id": conversation}, headers=admin).json()
    ]
    assert "conversation.needs_human" in types and "conversation.active" in types


def test_safe_calls_in_a_paused_turn_do_not_run_again_on_resume(
    settings: Any, seeded_engine: Any, openai_stub: Any
) -> None:
    from tests.conftest import online
    from tests.support import Reply, ToolCalls

    order = refundable_order(seeded_engine)
    before = len(refunds_of(seeded_engine, order))
    tickets_before = SqlStoreBackend(seeded_engine).list_tickets("default", customer_id="CUS-1001").total
    agent_key = bearer(seeded_engine)
    approver = bearer(seeded_engine, "default", ("approve",))
    openai_stub.enqueue(
        ToolCalls(
            [
                ("route_ticket", {"queue": "returns", "priority": "normal", "reason": "Damaged tent"}),
                ("issue_refund", {"order_number": order, "amount": 20, "reason": "damaged"}),
            ]
        ),
        Reply("Your refund has been issued and a ticket is open with our returns team."),
    )
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent_key
        ).json()["id"]
        body = client.post(
            f"/v1/conversations/{conversation}/messages",
            headers=agent_key,
            json={"content": f"My tent from {order} arrived torn, refund $20 please"},
        ).json()
        assert [c["status"] for c in body["tool_calls"]] == ["ok", "pending_approval"]
        decided = client.post(
            f"/v1/approvals/{body['pending_approval']}", json={"decision": "approve"}, headers=approver
        ).json()
    assert decided["reply"]["reply"].startswith("Your refund has been issued")
    assert [c["name"] for c in decided["reply"]["tool_calls"]] == [
        "issue_refund"
    ]  # route_ticket did not re-run
    tickets_after = SqlStoreBackend(seeded_engine).list_tickets("default", customer_id="CUS-1001").total
    assert tickets_after == tickets_before + 1
    assert len(refunds_of(seeded_engine, order)) == before + 1
    # Every tool call the model made is answered, in order, in what the model saw after the resume.
    final_request = openai_stub.chat_requests[-1].json["messages"]
    assert [m["role"] for m in final_request[-3:]] == ["assistant", "tool", "tool"]


def test_cancelling_an_unshipped_order_goes_through_approval(
    client: Any, agent_key: dict[str, str], approver: dict[str, str], seeded_engine: Any
) -> None:
    backend = SqlStoreBackend(seeded_engine)
    profile = backend.customer_profile("default", "CUS-1001")
    assert profile is not None
    order = next(o.order_number for o in profile.orders if o.status == "processing")
    conversation = client.post(
        "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent_key
    ).json()["id"]
    body = client.post(
        f"/v1/conversations/{conversation}/messages",
        headers=agent_key,
        json={"content": f"Cancel my order {order}, I ordered it by mistake."},
    ).json()
    assert [c["name"] for c in body["tool_calls"]] == ["lookup_refund", "cancel_order"]
    assert body["pending_approval"]
    assert backend.get_order("default", order).status == "processing"  # type: ignore[union-attr]

    out = client.post(
        f"/v1/approvals/{body['pending_approval']}", json={"decision": "approve"}, headers=approver
    ).json()
    assert out["approval"]["status"] == "executed" and "cancelled" in out["reply"]["reply"]
    assert backend.get_order("default", order).status == "cancelled"  # type: ignore[union-attr]


def test_a_streamed_message_while_waiting_is_refused_before_the_stream_starts(
    client: Any, agent_key: dict[str, str], seeded_engine: Any
) -> None:
    conversation, body = request_refund(client, agent_key, refundable_order(seeded_engine))
    assert body["pending_approval"]
    response = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": "any news?"},
        headers={**agent_key, "Accept": "text/event-stream"},
    )
    assert response.status_code == 409 and response.headers["content-type"].startswith("application/json")


def test_the_same_action_proposed_again_reuses_the_pending_approval(
    client: Any, agent_key: dict[str, str], approver: dict[str, str], seeded_engine: Any
) -> None:
    """A turn retried after a crash asks the model again: the same refund under a new tool call id must
    not become a second approval that staff could approve as well."""
    order = refundable_order(seeded_engine)
    conversation, body = request_refund(client, agent_key, order)
    desk = client.app.state.runtime.approvals
    first = desk.get(tenant="default", approval_id=body["pending_approval"])

    def propose(tool_call_id: str, args: dict[str, Any]) -> str:
        return desk._create(
            tenant="default",
            conversation_id=conversation,
            customer_id="CUS-1001",
            actor=None,
            tool_call_id=tool_call_id,
            tool=first.tool,
            args=args,
            checks=list(first.checks),
        )

    assert propose("call_retried", dict(first.args)) == first.id
    other_amount = propose("call_other", {**first.args, "amount": "0.01"})
    assert other_amount != first.id
    decided = client.post(f"/v1/approvals/{first.id}", json={"decision": "reject"}, headers=approver)
    assert decided.status_code == 200, decided.text
    assert propose("call_after_decision", dict(first.args)) not in {first.id, other_amount}
