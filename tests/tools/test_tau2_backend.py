"""Tau2StoreBackend: Deskpilot's StoreBackend on tau2's retail data, with tau2's policy inside every write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.tools.test_tau2_retail import _db
from tools.backends import StoreBackend
from tools.backends.tau2 import TENANT, Tau2StoreBackend
from tools.errors import ApprovalRequired, NotFound
from tools.order_changes import cancel_order
from tools.orders import LookupOrderArgs, lookup_order
from tools.tau2.errors import PolicyRefusal
from tools.tau2.tools import Cancel, Session, call

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def _session() -> Session:
    return Session(Tau2StoreBackend(_db()), "ann_1")


def test_it_is_a_store_backend_that_deskpilots_lookup_reads() -> None:
    session = _session()
    assert isinstance(session.backend, StoreBackend)
    view = lookup_order(LookupOrderArgs.model_construct(order_number="#W1"), session.context())
    assert view["status"] == "processing" and view["paid"] == "50.00"
    assert view["shipping_address"]["country"] == "US"
    assert session.backend.find_customer_by_email(TENANT, "ANN@example.com ").customer_id == "ann_1"
    assert session.backend.get_order("other-tenant", "#W1") is None


def test_deskpilots_cancel_tool_runs_only_with_an_approval_key_and_replays_once() -> None:
    session = _session()
    args = Cancel.model_validate({"order_id": "#W1", "reason": "ordered by mistake"})
    with pytest.raises(ApprovalRequired):
        cancel_order(args, session.context())
    assert session.backend.db.orders["#W1"]["status"] == "pending"
    first = cancel_order(args, session.context(idempotency_key="apr_1"))
    again = cancel_order(args, session.context(idempotency_key="apr_1"))
    assert first["duplicate"] is False and again["duplicate"] is True
    history = session.backend.db.orders["#W1"]["payment_history"]
    assert [p["transaction_type"] for p in history] == ["payment", "refund"]  # refunded once


def test_the_store_refuses_what_tau2s_policy_forbids_even_called_directly() -> None:
    backend = Tau2StoreBackend(_db())
    before = backend.state_hash()
    with pytest.raises(PolicyRefusal) as refused:
        backend.cancel_order(TENANT, "ann_1", "#W1", reason="found it cheaper", idempotency_key="k1", now=NOW)
    assert refused.value.rule == "cancel"
    with pytest.raises(NotFound):  # Bob's order, asked for as Ann
        backend.cancel_order(TENANT, "ann_1", "#W3", reason="no longer needed", idempotency_key="k2", now=NOW)
    with pytest.raises(PolicyRefusal):
        backend.retail_change(
            TENANT, "ann_1", "return", "#W1", idempotency_key="k3", now=NOW,
            item_ids=["K1"], payment_method_id="credit_card_1",
        )  # fmt: skip
    assert backend.state_hash() == before


def test_deskpilots_own_address_policy_also_holds() -> None:
    """tau2 allows any address on a pending order; Deskpilot's guard still ships to the shop's countries."""
    from api.eval.tools import EvalApprovals

    address = {"address1": "1 King St", "address2": "", "city": "Toronto", "state": "ON", "zip": "10001"}
    outcome, detail = call(
        "modify_pending_order_address",
        {"order_id": "#W1", **address, "country": "CA"},
        _session(),
        EvalApprovals(),
    )
    assert outcome == "refused" and detail["rule"] == "deskpilot" and not detail["tau2_checks"]
    session = _session()
    assert (
        call(
            "modify_pending_order_address",
            {"order_id": "#W1", **address, "country": "USA"},
            session,
            EvalApprovals(),
        )[0]
        == "ok"
    )
    assert session.backend.db.orders["#W1"]["address"] == {**address, "country": "USA"}


def test_state_hash_changes_with_a_write() -> None:
    session = _session()
    before = session.backend.state_hash()
    from api.eval.tools import EvalApprovals

    call("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"}, session, EvalApprovals())
    assert session.backend.state_hash() != before
    assert Tau2StoreBackend(_db()).state_hash() == before
