"""Argument validation: bad model arguments become InvalidArguments naming the field, never echoing it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tools.store_fixtures import Shop
from tools import TOOLS, parse_args, run_tool
from tools.errors import InvalidArguments
from tools.refunds import IssueRefundArgs

SECRET = "4111 1111 1111 1111"
ORDER = {"order_number": "ORD-104233"}
ADDR = {**ORDER, "street": "1 Main St", "city": "Boise", "postal_code": "83702", "country": "US"}


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("lookup_order", {"order_number": "104233"}, "order_number"),
        ("lookup_order", {"order_number": "ORD-1042333"}, "order_number"),
        ("lookup_order", {"order_number": f"ORD-{SECRET}"}, "order_number"),
        ("lookup_order", {}, "order_number"),
        ("lookup_order", {**ORDER, "customer_id": "CUS-1002"}, "customer_id"),
        ("issue_refund", {**ORDER, "amount": -5, "reason": "damaged"}, "amount"),
        ("issue_refund", {**ORDER, "amount": 0, "reason": "damaged"}, "amount"),
        ("issue_refund", {**ORDER, "amount": "12.345", "reason": "damaged"}, "amount"),
        ("issue_refund", {**ORDER, "amount": "lots", "reason": "damaged"}, "amount"),
        ("issue_refund", {**ORDER, "amount": 5, "reason": "no idea"}, "reason"),
        ("issue_refund", {**ORDER, "amount": 5, "reason": "other", "note": "x" * 301}, "note"),
        ("route_ticket", {"queue": "sales", "reason": "Needs a quote."}, "queue"),
        ("route_ticket", {"queue": "billing", "priority": "asap", "reason": "Needs a quote."}, "priority"),
        ("route_ticket", {"queue": "billing", "reason": ""}, "reason"),
        ("escalate_to_human", {"reason_category": "vip", "summary": "VIP."}, "reason_category"),
        ("escalate_to_human", {"reason_category": "other", "summary": SECRET * 80}, "summary"),
        ("cancel_order", {**ORDER, "reason": "bored"}, "reason"),
        ("update_shipping_address", {**ADDR, "country": "USA"}, "country"),
        ("update_shipping_address", {**ADDR, "postal_code": "<script>"}, "postal_code"),
    ],
)
def test_bad_arguments_are_refused_by_field(
    shop_ro: Shop, tool: str, args: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidArguments) as caught:
        run_tool(tool, args, shop_ro.ctx(idempotency_key="k"))
    message = caught.value.message
    assert f"{field}:" in message and tool in message
    assert SECRET not in message and "script" not in message
    assert caught.value.as_result()["error"] == "invalid_arguments"


def test_unknown_tool_and_non_object_arguments(shop_ro: Shop) -> None:
    with pytest.raises(InvalidArguments, match="Unknown tool"):
        run_tool("delete_everything", {}, shop_ro.ctx())
    with pytest.raises(InvalidArguments, match="JSON object"):
        run_tool("lookup_order", ["ORD-104233"], shop_ro.ctx())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "cents"),
    [(45, 4500), (45.5, 4550), ("45.50", 4550), (0.01, 1), (19.99, 1999), ("1234567.89", 123456789)],
)
def test_amounts_are_exact_decimals(raw: Any, cents: int) -> None:
    from tools.money import to_cents

    _, args = parse_args("issue_refund", {"order_number": "ord-104233 ", "amount": raw, "reason": "damaged"})
    assert isinstance(args, IssueRefundArgs)
    assert to_cents(args.amount) == cents
    assert args.order_number == "ORD-104233"  # normalised before the pattern check


def test_schemas_tell_the_model_the_constraints() -> None:
    lookup = TOOLS["lookup_order"].args_model.model_json_schema()
    assert lookup["properties"]["order_number"]["pattern"] == r"^ORD-\d{6}$"
    assert lookup["additionalProperties"] is False
    refund = TOOLS["issue_refund"].args_model.model_json_schema()
    assert refund["properties"]["amount"]["type"] == "number"
    assert refund["required"] == ["order_number", "amount", "reason"]
    route = TOOLS["route_ticket"].args_model.model_json_schema()
    assert route["properties"]["queue"]["enum"] == [
        "billing",
        "shipping",
        "returns",
        "technical",
        "account",
        "general",
    ]
