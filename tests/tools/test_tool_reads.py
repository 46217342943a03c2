"""Read and ticket tools on the seeded shop: what they return, and whose orders they can see."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from tests.tools.store_fixtures import Shop
from tools import TOOLS, check_tool, run_tool
from tools.errors import CustomerRequired, NotFound

ORDER_TOOLS: list[tuple[str, dict[str, Any]]] = [
    ("lookup_order", {}),
    ("lookup_refund", {}),
    ("route_ticket", {"queue": "shipping", "reason": "Carrier trace needed."}),
    ("escalate_to_human", {"reason_category": "other", "summary": "Customer wants a person."}),
    ("issue_refund", {"amount": "10.00", "reason": "damaged"}),
    ("cancel_order", {"reason": "customer_request"}),
    (
        "update_shipping_address",
        {"street": "1 Main St", "city": "Boise", "postal_code": "83702", "country": "US"},
    ),
]


def test_lookup_order_returns_what_the_model_needs(shop_ro: Shop) -> None:
    number = shop_ro.order("CUS-1001", "in_transit")
    result = run_tool("lookup_order", {"order_number": number.lower()}, shop_ro.ctx())
    order = shop_ro.backend.get_order("default", number)
    assert order is not None
    assert result["order_number"] == number and result["status"] == "in_transit"
    assert result["carrier"] == order.carrier and result["tracking_number"] == order.tracking_number
    assert result["expected_delivery"] == order.expected_delivery.isoformat()  # type: ignore[union-attr]
    assert result["total"] == f"{order.total_cents / 100:.2f}" and result["currency"] == "USD"
    assert [i["sku"] for i in result["items"]] == [i.sku for i in order.items]
    assert re.fullmatch(r".+ ending \d{4}|PayPal|gift card", result["paid_with"])
    json.dumps(result)  # JSON-serialisable as is


def test_lookup_order_shows_refunds_so_far(shop_ro: Shop) -> None:
    number = shop_ro.order("CUS-1001", "partially_refunded")
    result = run_tool("lookup_order", {"order_number": number}, shop_ro.ctx())
    assert len(result["refunds"]) == 1 and result["refunds"][0]["refund_id"].startswith("RF-")
    assert float(result["refunded"]) == float(result["refunds"][0]["amount"]) > 0


@pytest.mark.parametrize(
    ("customer", "label", "eligible", "action"),
    [
        ("CUS-1001", "delivered_refundable", True, "refund"),
        ("CUS-1001", "partially_refunded", True, "refund"),
        ("CUS-1001", "delivered_old", False, "none"),
        ("CUS-1001", "in_transit", False, "wait_for_delivery"),
        ("CUS-1001", "processing", False, "cancel"),
        ("CUS-1002", "lost_in_transit", False, "escalate"),
        ("CUS-1002", "final_sale_only", False, "none"),
    ],
)
def test_lookup_refund_gives_the_policy_verdict(
    shop_ro: Shop, customer: str, label: str, eligible: bool, action: str
) -> None:
    result = run_tool(
        "lookup_refund", {"order_number": shop_ro.order(customer, label)}, shop_ro.ctx(customer)
    )
    verdict = result["eligibility"]
    assert (verdict["eligible"], verdict["suggested_action"]) == (eligible, action)
    assert verdict["reasons"]
    assert (float(verdict["refundable_amount"]) > 0) is eligible
    assert (verdict["window_ends"] is not None) is (result["status"] == "delivered")
    assert result["refunds_arrive_within"] == "5-10 business days"


@pytest.mark.parametrize(("tool", "extra"), ORDER_TOOLS, ids=[t for t, _ in ORDER_TOOLS])
def test_someone_elses_order_looks_missing(shop: Shop, tool: str, extra: dict[str, Any]) -> None:
    """Another customer's order, another tenant's order and a missing one all read the same."""
    mine = shop.order(
        "CUS-1001",
        "processing" if tool in ("cancel_order", "update_shipping_address") else "delivered_refundable",
    )
    acme_numbers = {o.order_number for o in shop.backend.customer_profile("acme", "CUS-1001").orders}  # type: ignore[union-attr]
    assert mine not in acme_numbers
    tickets_before = shop.backend.list_tickets("default").total + shop.backend.list_tickets("acme").total
    attempts = [
        (shop.ctx("CUS-1002", idempotency_key="k-1"), mine),  # another customer, same tenant
        (shop.ctx("CUS-1001", tenant="acme", idempotency_key="k-2"), mine),  # same customer id, other tenant
        (shop.ctx("CUS-1001", idempotency_key="k-3"), "ORD-999999"),  # no such order
    ]
    messages = set()
    for ctx, number in attempts:
        for call in (run_tool, check_tool) if TOOLS[tool].sensitive else (run_tool,):
            with pytest.raises(NotFound) as caught:
                call(tool, {"order_number": number, **extra}, ctx)
            messages.add(caught.value.message.replace(number, "<n>"))
    assert messages == {"No order <n> was found for this customer."}
    assert (
        shop.backend.list_tickets("default").total + shop.backend.list_tickets("acme").total == tickets_before
    )
    assert (
        shop.backend.find_change("default", "k-1") is None and shop.backend.find_change("acme", "k-2") is None
    )


@pytest.mark.parametrize("tool", ["lookup_order", "lookup_refund", "issue_refund"])
def test_order_tools_need_a_customer(shop_ro: Shop, tool: str) -> None:
    args = {"order_number": shop_ro.order("CUS-1001", "delivered_refundable")}
    if tool == "issue_refund":
        args |= {"amount": 5, "reason": "damaged"}
    with pytest.raises(CustomerRequired, match="signed-in customer"):
        run_tool(tool, args, shop_ro.ctx(None, idempotency_key="k"))


def test_escalation_creates_a_handoff_ticket(shop: Shop) -> None:
    number = shop.order("CUS-1002", "lost_in_transit")
    result = run_tool(
        "escalate_to_human",
        {
            "reason_category": "policy_exception",
            "summary": "Parcel lost for three weeks.",
            "order_number": number,
        },
        shop.ctx("CUS-1002"),
    )
    assert result["handoff"] is True and result["reason_category"] == "policy_exception"
    ticket = shop.backend.get_ticket("default", result["ticket_id"])
    assert ticket is not None
    assert (ticket.kind, ticket.queue, ticket.customer_id, ticket.order_number) == (
        "escalation",
        "returns",
        "CUS-1002",
        number,
    )
    assert ticket.conversation_id == "conv-test" and ticket.status == "open"
    assert shop.backend.get_ticket("acme", result["ticket_id"]) is None


def test_escalation_works_without_a_customer(shop: Shop) -> None:
    args = {"reason_category": "angry_customer", "summary": "Wants a manager."}
    result = run_tool("escalate_to_human", args, shop.ctx(None))
    ticket = shop.backend.get_ticket("default", result["ticket_id"])
    assert ticket is not None and ticket.customer_id is None and ticket.priority == "high"


def test_route_ticket_files_in_the_chosen_queue(shop: Shop) -> None:
    before = shop.backend.list_tickets("default", customer_id="CUS-1001").total
    result = run_tool(
        "route_ticket",
        {
            "queue": "billing",
            "priority": "high",
            "reason": "Customer sees two charges for one order.\nPlease check.",
        },
        shop.ctx(),
    )
    assert (result["queue"], result["priority"], result["status"]) == ("billing", "high", "open")
    tickets = shop.backend.list_tickets("default", customer_id="CUS-1001")
    assert tickets.total == before + 1
    assert tickets.items[0].ticket_id == result["ticket_id"]
    assert tickets.items[0].subject == "Customer sees two charges for one order."
    assert tickets.items[0].kind == "routed" and tickets.items[0].actor == "key-test"


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("route_ticket", {"queue": "shipping", "reason": "Carrier trace needed."}),
        ("escalate_to_human", {"reason_category": "other", "summary": "Parcel lost."}),
    ],
)
def test_a_ticket_tool_run_again_for_one_conversation_files_one_ticket(
    shop: Shop, tool: str, args: dict[str, Any]
) -> None:
    """A turn retried after a crash runs its tools again: the open ticket it already filed is returned."""
    before = shop.backend.list_tickets("default", customer_id="CUS-1001").total
    first = run_tool(tool, args, shop.ctx())
    again = run_tool(tool, args, shop.ctx())
    assert again["ticket_id"] == first["ticket_id"]
    assert shop.backend.list_tickets("default", customer_id="CUS-1001").total == before + 1
    other_conversation = replace(shop.ctx(), conversation_id="conv-other")
    assert run_tool(tool, args, other_conversation)["ticket_id"] != first["ticket_id"]
    if tool == "route_ticket":
        other_queue = run_tool(tool, args | {"queue": "billing"}, shop.ctx())
        assert other_queue["ticket_id"] != first["ticket_id"]
