"""The rules of tau2's retail policy (`tau2-retail/policy.md`) that code can check, one function per action.

Rules about conversation (confirm before acting, one tool call at a time) belong to the agent; everything
here is decided from the database alone, before anything is written. The checks are those tau2-bench's
retail tools make, plus two that policy.md states and its code omits (marked `tau2_checks=False`): an
exchange must pick another option, and an order whose items were modified cannot be modified again.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tools.tau2.errors import PolicyRefusal
from tools.tau2.store import RetailDB

CANCEL_REASONS = frozenset({"no longer needed", "ordered by mistake"})


def _status(order: dict[str, Any], wanted: str, rule: str) -> None:
    if order["status"] != wanted:
        raise PolicyRefusal(
            rule, f"the order is {order['status']}, and only a {wanted} order can be changed so"
        )


def payment_method(db: RetailDB, order: dict[str, Any], payment_method_id: str) -> dict[str, Any]:
    methods = db.user(order["user_id"])["payment_methods"]
    if payment_method_id not in methods:
        raise PolicyRefusal("payment", "that payment method is not one of the user's")
    return dict(methods[payment_method_id])


def _gift_card_covers(method: dict[str, Any], amount: float) -> None:
    if method["source"] == "gift_card" and amount > 0 and method.get("balance", 0.0) < amount:
        raise PolicyRefusal("payment", "the gift card balance does not cover the amount")


def original_payment_id(order: dict[str, Any]) -> str:
    payments = [p for p in order["payment_history"] if p["transaction_type"] == "payment"]
    return str(payments[0]["payment_method_id"]) if payments else ""


def check_cancel(order: dict[str, Any], reason: str) -> None:
    _status(order, "pending", "cancel")
    if reason not in CANCEL_REASONS:
        raise PolicyRefusal("cancel", "the reason must be 'no longer needed' or 'ordered by mistake'")


def check_modify_address(order: dict[str, Any]) -> None:
    _status(order, "pending", "modify")


def check_modify_payment(db: RetailDB, order: dict[str, Any], payment_method_id: str) -> dict[str, Any]:
    _status(order, "pending", "modify payment")
    payments = [p for p in order["payment_history"] if p["transaction_type"] == "payment"]
    if len(payments) != 1:
        raise PolicyRefusal("modify payment", "the order has more than one payment")
    if payments[0]["payment_method_id"] == payment_method_id:
        raise PolicyRefusal("modify payment", "the new payment method must differ from the original one")
    method = payment_method(db, order, payment_method_id)
    _gift_card_covers(method, float(payments[0]["amount"]))
    return method


def check_item_swap(
    db: RetailDB,
    order: dict[str, Any],
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
    rule: str,
) -> float:
    """Same product, another available option, each item once per order; returns the price difference."""
    if len(item_ids) != len(new_item_ids) or not item_ids:
        raise PolicyRefusal(rule, "every item to change needs exactly one new item")
    in_order = Counter(item["item_id"] for item in order["items"])
    for item_id, count in Counter(item_ids).items():
        if in_order[item_id] < count:
            raise PolicyRefusal(rule, f"item {item_id} is not in the order (as often as asked)")
    difference = 0.0
    for old_id, new_id in zip(item_ids, new_item_ids, strict=True):
        old = next(item for item in order["items"] if item["item_id"] == old_id)
        product_id, variant = db.variant(new_id)
        if product_id != old["product_id"]:
            raise PolicyRefusal(rule, "an item can only become another option of the same product")
        if new_id == old_id:
            raise PolicyRefusal(rule, "the new item must be a different option", rule == "modify items")
        if not variant["available"]:
            raise PolicyRefusal(rule, f"item {new_id} is not available")
        difference += float(variant["price"]) - float(old["price"])
    _gift_card_covers(payment_method(db, order, payment_method_id), difference)
    return round(difference, 2)


def check_modify_items(
    db: RetailDB, order: dict[str, Any], item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> float:
    _status(order, "pending", "modify items")
    return check_item_swap(db, order, item_ids, new_item_ids, payment_method_id, "modify items")


def check_return(db: RetailDB, order: dict[str, Any], item_ids: list[str], payment_method_id: str) -> None:
    _status(order, "delivered", "return")
    if not item_ids:
        raise PolicyRefusal("return", "name the items to return")
    in_order = Counter(item["item_id"] for item in order["items"])
    for item_id, count in Counter(item_ids).items():
        if in_order[item_id] < count:
            raise PolicyRefusal("return", f"item {item_id} is not in the order (as often as asked)")
    method = payment_method(db, order, payment_method_id)
    if payment_method_id != original_payment_id(order) and method["source"] != "gift_card":
        raise PolicyRefusal(
            "return", "the refund goes to the original payment method or an existing gift card"
        )


def check_exchange(
    db: RetailDB, order: dict[str, Any], item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> float:
    _status(order, "delivered", "exchange")
    return check_item_swap(db, order, item_ids, new_item_ids, payment_method_id, "exchange")
