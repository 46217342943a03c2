"""The written refund policy, rule by rule, on order records (no database)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

import tools.policy as policy_module
from tests.tools.store_fixtures import NOW, make_order
from tools.errors import PolicyViolation
from tools.policy import (
    DEFAULT_POLICY,
    TenantPolicy,
    check_address_change,
    check_cancellation,
    check_refund,
    refund_arrival,
    refund_eligibility,
)
from tools.schemas import Address

S = timedelta(seconds=1)
D = timedelta(days=1)


PROCESSING = {"status": "processing", "delivered_ago": None}
WAIT = "wait_for_delivery"


def moving(status: str, shipped_ago: timedelta) -> dict:
    return {"status": status, "delivered_ago": None, "shipped_ago": shipped_ago}


MIXED = [(6_000, False), (4_000, True)]  # one final-sale item worth 40% of the order


def case(order: dict, eligible: bool, action: str, refundable: int, words: str, name: str) -> object:
    return pytest.param(order, eligible, action, refundable, words, id=name)


@pytest.mark.parametrize(
    ("order_kwargs", "eligible", "action", "refundable", "reason_words"),
    [
        case({"delivered_ago": 5 * D}, True, "refund", 10_000, "window is open", "delivered recently"),
        case({"delivered_ago": 30 * D}, True, "refund", 10_000, "window is open", "exactly 30 days"),
        case({"delivered_ago": 30 * D + S}, False, "none", 0, "window", "one second past 30 days"),
        case({"delivered_ago": 90 * D}, False, "none", 0, "ended on", "delivered long ago"),
        case(PROCESSING, False, "cancel", 0, "cancelled instead", "not shipped yet"),
        case(moving("shipped", D / 2), False, WAIT, 0, "after it is delivered", "shipped today"),
        case(moving("in_transit", 14 * D), False, WAIT, 0, "after it is delivered", "14 days in transit"),
        case(moving("in_transit", 14 * D + S), False, "escalate", 0, "lost", "over 14 days in transit"),
        case({"status": "cancelled", "delivered_ago": None}, False, "none", 0, "nothing left", "cancelled"),
        case({"status": "returned"}, False, "none", 0, "nothing left", "returned"),
        case({"refunds": [(10_000, "succeeded")]}, False, "none", 0, "fully refunded", "fully refunded"),
        case({"refunds": [(2_500, "succeeded")]}, True, "refund", 7_500, "window", "partially refunded"),
        case({"refunds": [(4_000, "pending")]}, True, "refund", 6_000, "window", "pending refunds count"),
        case({"refunds": [(4_000, "failed")]}, True, "refund", 10_000, "window", "failed refunds do not"),
        case({"items": [(5_000, True), (2_900, True)]}, False, "none", 0, "final sale", "only final sale"),
        case({"items": MIXED}, True, "refund", 6_000, "Final-sale", "final sale excluded"),
        case(
            {"items": MIXED, "refunds": [(6_000, "succeeded")]},
            False,
            "none",
            0,
            "final sale",
            "final-sale share is all that is left",
        ),
        case(
            {"status": "cancelled", "delivered_ago": None, "payment_status": "failed"},
            False,
            "none",
            0,
            "nothing left",
            "payment failed",
        ),
    ],
)
def test_refund_eligibility_table(
    order_kwargs: dict, eligible: bool, action: str, refundable: int, reason_words: str
) -> None:
    result = refund_eligibility(make_order(**order_kwargs), NOW)
    assert (result.eligible, result.suggested_action, result.refundable_cents) == (
        eligible,
        action,
        refundable,
    )
    assert reason_words.lower() in " ".join(result.reasons).lower(), result.reasons


def test_window_end_is_thirty_days_after_delivery() -> None:
    order = make_order(delivered_ago=3 * D)
    result = refund_eligibility(order, NOW)
    assert order.delivered_at is not None
    assert result.window_ends == order.delivered_at + 30 * D


def test_processing_order_reports_what_cancelling_returns() -> None:
    result = refund_eligibility(make_order(**PROCESSING), NOW)
    assert result.cancellation_refund_cents == 10_000


def test_tenant_window_setting_is_respected() -> None:
    strict = TenantPolicy(refund_window_days=7)
    assert not refund_eligibility(make_order(delivered_ago=8 * D), NOW, strict).eligible
    assert refund_eligibility(make_order(delivered_ago=8 * D), NOW).eligible


@pytest.mark.parametrize(
    ("amount", "refunded", "limit", "error"),
    [
        (10_000, [], 50_000, None),  # the whole refundable amount
        (10_001, [], 50_000, "most that can be refunded"),
        (7_500, [(2_500, "succeeded")], 50_000, None),
        (7_501, [(2_500, "succeeded")], 50_000, "most that can be refunded"),
        (10_000, [], 10_000, None),  # exactly at the tenant limit
        (10_000, [], 9_999, "needs a supervisor"),
        (0, [], 50_000, "positive"),
    ],
)
def test_check_refund_amount_and_limit(amount: int, refunded: list, limit: int, error: str | None) -> None:
    order = make_order(refunds=refunded)
    policy = TenantPolicy(refund_limit_cents=limit)
    if error is None:
        checks = check_refund(order, amount, NOW, policy)
        assert any("within the single-refund limit" in c for c in checks)
        assert any("Visa ending 4242" in c and "5-10 business days" in c for c in checks)
    else:
        with pytest.raises(PolicyViolation, match=error):
            check_refund(order, amount, NOW, policy)


def test_default_limit_is_500_dollars() -> None:
    order = make_order(items=[(80_000, False)])
    check_refund(order, 50_000, NOW)
    with pytest.raises(PolicyViolation, match=r"above the \$500\.00 limit.*supervisor"):
        check_refund(order, 50_001, NOW)


def test_refund_refused_for_ineligible_order_relays_the_reason() -> None:
    with pytest.raises(PolicyViolation, match="window"):
        check_refund(make_order(delivered_ago=31 * D), 100, NOW)
    with pytest.raises(PolicyViolation, match="cancelled instead"):
        check_refund(make_order(**PROCESSING), 100, NOW)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("processing", None),
        ("shipped", "already shipped"),
        ("in_transit", "already shipped"),
        ("delivered", "ask for a refund"),
        ("cancelled", "nothing left to cancel"),
        ("returned", "nothing left to cancel"),
    ],
)
def test_check_cancellation(status: str, error: str | None) -> None:
    order = make_order(status=status, delivered_ago=None if status != "delivered" else 2 * D, shipped_ago=D)
    if error is None:
        checks = check_cancellation(order, NOW)
        assert any("full amount paid: $100.00" in c for c in checks)
    else:
        with pytest.raises(PolicyViolation, match=error):
            check_cancellation(order, NOW)


def test_cancellation_refund_above_limit_needs_a_supervisor() -> None:
    order = make_order(status="processing", delivered_ago=None, items=[(60_000, False)])
    with pytest.raises(PolicyViolation, match="supervisor"):
        check_cancellation(order, NOW)
    assert check_cancellation(order, NOW, TenantPolicy(refund_limit_cents=100_000))


def test_check_address_change() -> None:
    new = Address(street="5 Oak Ave", city="Calgary", region="AB", postal_code="T2N 1N4", country="CA")
    assert check_address_change(make_order(**PROCESSING), new)
    with pytest.raises(PolicyViolation, match="shipped"):
        check_address_change(make_order(status="in_transit", delivered_ago=None, shipped_ago=D), new)
    with pytest.raises(PolicyViolation, match="ship only to US, CA"):
        check_address_change(make_order(**PROCESSING), new.model_copy(update={"country": "FR"}))


def test_refund_arrival_counts_business_days() -> None:
    friday = datetime(2026, 3, 20, 15, tzinfo=UTC)
    low, high = refund_arrival(friday)
    assert (low.isoformat(), high.isoformat()) == ("2026-03-27", "2026-04-03")


def test_docstring_states_the_rules_the_code_enforces() -> None:
    """The knowledge-base article is written from the module docstring: it must match the defaults."""
    text = " ".join((policy_module.__doc__ or "").split())
    assert f"within {DEFAULT_POLICY.refund_window_days} days of delivery" in text
    assert f"more than {DEFAULT_POLICY.lost_after_days} days after it shipped" in text
    assert "default $500.00" in text and DEFAULT_POLICY.refund_limit_cents == 50_000
    low, high = DEFAULT_POLICY.refund_days
    assert f"{low}-{high} business days" in text
    assert f"default {DEFAULT_POLICY.max_refunds_per_day}, set per shop" in text
    assert len(re.findall(r"^\d+\. ", policy_module.__doc__ or "", flags=re.MULTILINE)) == 10


def test_the_daily_refund_limit_refuses_the_one_past_it() -> None:
    from tools.errors import PolicyViolation
    from tools.policy import TenantPolicy, check_daily_refunds

    policy = TenantPolicy(max_refunds_per_day=3)
    assert "2 of the shop's 3" in check_daily_refunds(2, policy)
    with pytest.raises(PolicyViolation, match="limit of 3 refunds today"):
        check_daily_refunds(3, policy)
