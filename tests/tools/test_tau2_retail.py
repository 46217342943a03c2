"""tau2 retail tools: policy refusals in code, the trusted session, effects, and the ground-truth replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.backends.tau2 import Tau2StoreBackend
from tools.tau2.store import RetailDB
from tools.tau2.tools import Session, call

EVAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "eval-data"


def _db() -> RetailDB:
    """Two users, a pending and a delivered order, one product with three options."""
    address = {"address1": "1 Main St", "address2": "", "city": "Austin", "state": "TX", "country": "USA"}
    kettle = {
        "name": "Tea Kettle",
        "product_id": "P1",
        "variants": {
            "K1": {"item_id": "K1", "options": {"color": "red"}, "available": True, "price": 50.0},
            "K2": {"item_id": "K2", "options": {"color": "blue"}, "available": True, "price": 80.0},
            "K3": {"item_id": "K3", "options": {"color": "green"}, "available": False, "price": 40.0},
        },
    }
    lamp = {
        "name": "Lamp",
        "product_id": "P2",
        "variants": {"L1": {"item_id": "L1", "options": {}, "available": True, "price": 20.0}},
    }
    methods = {
        "gift_card_1": {"source": "gift_card", "id": "gift_card_1", "balance": 10.0},
        "credit_card_1": {"source": "credit_card", "id": "credit_card_1"},
        "paypal_1": {"source": "paypal", "id": "paypal_1"},
    }

    def order(order_id: str, status: str, user: str = "ann_1") -> dict[str, Any]:
        item = {
            "name": "Tea Kettle",
            "product_id": "P1",
            "item_id": "K1",
            "price": 50.0,
            "options": {"color": "red"},
        }
        return {
            "order_id": order_id,
            "user_id": user,
            "address": {**address, "zip": "78701"},
            "items": [item],
            "status": status,
            "fulfillments": [],
            "payment_history": [
                {"transaction_type": "payment", "amount": 50.0, "payment_method_id": "credit_card_1"}
            ],
        }

    users = {
        "ann_1": {
            "user_id": "ann_1",
            "name": {"first_name": "Ann", "last_name": "Lee"},
            "address": {**address, "zip": "78701"},
            "email": "ann@example.com",
            "payment_methods": methods,
            "orders": ["#W1", "#W2"],
        },
        "bob_2": {
            "user_id": "bob_2",
            "name": {"first_name": "Bob", "last_name": "Roe"},
            "address": {**address, "zip": "10001"},
            "email": "bob@example.com",
            "payment_methods": {"credit_card_1": methods["credit_card_1"]},
            "orders": ["#W3"],
        },
    }
    orders = {
        "#W1": order("#W1", "pending"),
        "#W2": order("#W2", "delivered"),
        "#W3": order("#W3", "pending", "bob_2"),
    }
    return RetailDB(users=users, orders=orders, products={"P1": kettle, "P2": lamp})


def _ann() -> Session:
    return Session(Tau2StoreBackend(_db()), "ann_1")


def _run(session: Session, name: str, **arguments: Any) -> tuple[str, Any]:
    from api.eval.tools import EvalApprovals

    return call(name, arguments, session, approve=EvalApprovals())


@pytest.mark.parametrize(
    ("name", "arguments", "rule"),
    [
        ("cancel_pending_order", {"order_id": "#W2", "reason": "no longer needed"}, "cancel"),
        ("cancel_pending_order", {"order_id": "#W1", "reason": "found it cheaper"}, "cancel"),
        (
            "modify_pending_order_items",
            {"order_id": "#W1", "item_ids": ["K1"], "new_item_ids": ["L1"], "payment_method_id": "paypal_1"},
            "modify items",
        ),
        (
            "modify_pending_order_items",
            {"order_id": "#W1", "item_ids": ["K1"], "new_item_ids": ["K3"], "payment_method_id": "paypal_1"},
            "modify items",
        ),
        (
            "modify_pending_order_items",
            {
                "order_id": "#W1",
                "item_ids": ["K1"],
                "new_item_ids": ["K2"],
                "payment_method_id": "gift_card_1",
            },
            "payment",
        ),
        (
            "modify_pending_order_payment",
            {"order_id": "#W1", "payment_method_id": "credit_card_1"},
            "modify payment",
        ),
        (
            "return_delivered_order_items",
            {"order_id": "#W1", "item_ids": ["K1"], "payment_method_id": "credit_card_1"},
            "return",
        ),
        (
            "return_delivered_order_items",
            {"order_id": "#W2", "item_ids": ["K1"], "payment_method_id": "paypal_1"},
            "return",
        ),
        (
            "return_delivered_order_items",
            {"order_id": "#W2", "item_ids": ["K1", "K1"], "payment_method_id": "credit_card_1"},
            "return",
        ),
        (
            "exchange_delivered_order_items",
            {"order_id": "#W1", "item_ids": ["K1"], "new_item_ids": ["K2"], "payment_method_id": "paypal_1"},
            "exchange",
        ),
    ],
)
def test_the_policy_refuses_in_code_with_its_rule(name: str, arguments: dict[str, Any], rule: str) -> None:
    session = _ann()
    before = _db().state()
    outcome, detail = _run(session, name, **arguments)
    assert outcome == "refused" and detail["rule"] == rule
    assert session.backend.db.state() == before  # nothing was written


def test_the_session_acts_for_its_own_user_only() -> None:
    anonymous = Session(Tau2StoreBackend(_db()))
    assert _run(anonymous, "get_order_details", order_id="#W1")[0] == "unauthenticated"
    assert _run(anonymous, "find_user_id_by_name_zip", first_name="ann", last_name="LEE", zip="78701") == (
        "ok",
        "ann_1",
    )
    assert _run(anonymous, "get_order_details", order_id="#W1")[0] == "ok"
    # Bob's order and profile: Deskpilot's ownership check answers as for a miss
    assert _run(anonymous, "get_order_details", order_id="#W3")[0] == "not_found"
    assert _run(anonymous, "get_user_details", user_id="bob_2")[0] == "not_found"
    assert _run(anonymous, "get_order_details", order_id="W1")[0] == "invalid"


def test_writes_wait_for_approval() -> None:
    session = _ann()
    outcome, _ = call(
        "cancel_pending_order", {"order_id": "#W1", "reason": "ordered by mistake"}, session, lambda *_: None
    )
    assert outcome == "pending_approval" and session.backend.db.orders["#W1"]["status"] == "pending"


def test_effects_follow_tau2() -> None:
    session = _ann()
    assert (
        _run(
            session,
            "modify_pending_order_items",
            order_id="#W1",
            item_ids=["K1"],
            new_item_ids=["K2"],
            payment_method_id="paypal_1",
        )[0]
        == "ok"
    )
    order = session.backend.db.orders["#W1"]
    assert order["status"] == "pending (item modified)" and order["items"][0]["item_id"] == "K2"
    assert order["payment_history"][-1] == {
        "transaction_type": "payment",
        "amount": 30.0,
        "payment_method_id": "paypal_1",
    }
    assert (
        _run(session, "cancel_pending_order", order_id="#W1", reason="no longer needed")[1]["rule"]
        == "cancel"
    )
    outcome, returned = _run(
        session,
        "return_delivered_order_items",
        order_id="#W2",
        item_ids=["K1"],
        payment_method_id="gift_card_1",
    )
    assert outcome == "ok" and returned["status"] == "return requested" and returned["return_items"] == ["K1"]
    assert _run(session, "calculate", expression="(80 - 50) * 2") == ("ok", 60.0)
    assert _run(session, "calculate", expression="__import__('os')")[0] == "refused"


@pytest.mark.skipif(not (EVAL_DATA / "tau2-retail").is_dir(), reason="tau2 retail data not found")
def test_every_ground_truth_action_agrees_with_tau2() -> None:
    from api.eval.tools import run

    result = run(EVAL_DATA)
    # Measured: 550 actions of 114 tasks; 532 accepted, 18 fail as they do in tau2 (a mistyped e-mail or
    # order id tried first, an exchange of a pending order, a gift card short of the difference); 236
    # forbidden variants of accepted writes, all refused for the policy's rule.
    assert result["tasks"] == 114 and result["actions"] == 550
    assert result["agreement"] == {"accepted": 532, "error in tau2 too": 18}
    assert set(result["forbidden_variants"]) == {"refused for the policy's reason"}
    assert result["forbidden_variants"]["refused for the policy's reason"] >= 230
