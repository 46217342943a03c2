"""Northbeam Supply's refund and order-change policy, enforced in code before anything is proposed.

The knowledge-base article for customers is written from this text; change both together.

1. Refunds are only for delivered orders, within 30 days of delivery. The window closes exactly
   30 days after the delivery time; a request at that moment is still in time.
2. Orders that have not shipped yet (status processing) are cancelled instead of refunded;
   cancelling refunds the full amount paid.
3. Shipped and in-transit orders are not refundable until they are delivered. An order still in
   transit more than 14 days after it shipped is treated as lost: it is escalated to a person.
4. Final-sale items (gift cards, clearance and personalised items) are not refundable: the most a
   refund can return is the share of the amount paid that belongs to items that are not final sale.
5. A refund never exceeds the amount paid minus what was already refunded.
6. Cancelled, returned and fully refunded orders have nothing left to refund.
7. Refunds go back to the original payment method and arrive in 5-10 business days.
8. A single refund above the shop's limit (default $500.00, set per shop) is not issued by the
   copilot: it needs a supervisor and is escalated. This includes the refund of a cancellation.
9. The shipping address of an order can be changed only before it ships, and only to a country
   the shop ships to (default: United States and Canada).
10. The shop issues at most a set number of refunds a day (default 50, set per shop); past it, refunds
   wait for a supervisor.

Every function here is pure: it takes the order, the time and the shop's `TenantPolicy`, and either
returns the checks that passed (human-readable, shown to the approving staff member) or raises
`PolicyViolation` with a reason the model can relay to the customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from tools.errors import PolicyViolation
from tools.money import format_money
from tools.schemas import Address, Order

SuggestedAction = Literal["refund", "cancel", "wait_for_delivery", "escalate", "none"]


@dataclass(frozen=True)
class TenantPolicy:
    """Per-shop knobs; the defaults are the written policy above."""

    refund_window_days: int = 30
    lost_after_days: int = 14
    refund_limit_cents: int = 50_000
    max_refunds_per_day: int = 50
    shipping_countries: tuple[str, ...] = ("US", "CA")
    refund_days: tuple[int, int] = (5, 10)  # business days until the money arrives


DEFAULT_POLICY = TenantPolicy()


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str]
    refundable_cents: int  # what a refund could return now; 0 when not eligible
    window_ends: datetime | None  # delivered orders only
    suggested_action: SuggestedAction = "none"
    cancellation_refund_cents: int = field(default=0)  # processing orders: what cancelling returns


def _day(moment: datetime | date) -> str:
    return moment.strftime("%Y-%m-%d")


def remaining_paid_cents(order: Order) -> int:
    """Rule 5: what was paid and not refunded yet."""
    return max(0, order.paid_cents - order.refunded_cents)


def refundable_cents(order: Order) -> int:
    """Rules 4 and 5: the non-final-sale share of the payment, less refunds, never above rule 5."""
    subtotal = sum(item.line_total_cents for item in order.items)
    eligible = sum(item.line_total_cents for item in order.items if not item.final_sale)
    share = order.paid_cents * eligible // subtotal if subtotal else 0
    return max(0, min(share - order.refunded_cents, remaining_paid_cents(order)))


def refund_eligibility(order: Order, now: datetime, policy: TenantPolicy = DEFAULT_POLICY) -> Eligibility:
    """Whether the order can be refunded now, why, how much, and until when."""
    number = order.order_number
    if order.status == "processing":
        back = remaining_paid_cents(order)
        return Eligibility(
            False,
            [
                f"Order {number} has not shipped yet, so it is cancelled instead of refunded; "
                f"cancelling refunds the full amount paid ({format_money(back, order.currency)})."
            ],
            0,
            None,
            "cancel",
            back,
        )
    if order.status in ("shipped", "in_transit"):
        shipped = order.shipped_at
        if shipped is not None and now - shipped > timedelta(days=policy.lost_after_days):
            return Eligibility(
                False,
                [
                    f"Order {number} shipped on {_day(shipped)} and has been in transit for more than "
                    f"{policy.lost_after_days} days, so it is treated as lost: a person will handle it."
                ],
                0,
                None,
                "escalate",
            )
        return Eligibility(
            False,
            [f"Order {number} is on its way and can be refunded only after it is delivered."],
            0,
            None,
            "wait_for_delivery",
        )
    if order.status in ("cancelled", "returned"):
        return Eligibility(
            False, [f"Order {number} was {order.status}; there is nothing left to refund."], 0, None
        )
    delivered = order.delivered_at or order.placed_at
    window_ends = delivered + timedelta(days=policy.refund_window_days)
    if remaining_paid_cents(order) == 0:
        return Eligibility(False, [f"Order {number} has already been fully refunded."], 0, window_ends)
    amount = refundable_cents(order)
    if amount == 0:
        return Eligibility(
            False,
            [f"The rest of order {number} is final sale, and final-sale items are not refundable."],
            0,
            window_ends,
        )
    if now > window_ends:
        return Eligibility(
            False,
            [
                f"The {policy.refund_window_days}-day refund window for order {number} ended on "
                f"{_day(window_ends)}."
            ],
            0,
            window_ends,
        )
    reasons = [
        f"Order {number} was delivered on {_day(delivered)} and the refund window is open "
        f"until {_day(window_ends)}."
    ]
    if any(item.final_sale for item in order.items):
        reasons.append("Final-sale items in this order are not refundable.")
    return Eligibility(True, reasons, amount, window_ends, "refund")


def refund_arrival(now: datetime, policy: TenantPolicy = DEFAULT_POLICY) -> tuple[date, date]:
    """Rule 7: the business-day range in which the money reaches the customer."""
    low, high = policy.refund_days
    return _add_business_days(now.date(), low), _add_business_days(now.date(), high)


def _add_business_days(start: date, days: int) -> date:
    current = start
    while days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _limit_check(order: Order, amount_cents: int, policy: TenantPolicy) -> str:
    limit = format_money(policy.refund_limit_cents, order.currency)
    if amount_cents > policy.refund_limit_cents:
        raise PolicyViolation(
            f"A refund of {format_money(amount_cents, order.currency)} is above the {limit} limit for a "
            f"single refund and needs a supervisor; escalate to a person (policy_exception)."
        )
    return f"{format_money(amount_cents, order.currency)} is within the single-refund limit of {limit}."


def _destination(order: Order, policy: TenantPolicy) -> str:
    payment = order.original_payment
    label = payment.label if payment else "the original payment method"
    low, high = policy.refund_days
    return f"The money goes back to {label} within {low}-{high} business days."


def check_refund(
    order: Order, amount_cents: int, now: datetime, policy: TenantPolicy = DEFAULT_POLICY
) -> list[str]:
    """All refund rules for one amount; returns the checks that passed or raises PolicyViolation."""
    if amount_cents <= 0:
        raise PolicyViolation("A refund amount must be positive.")
    eligibility = refund_eligibility(order, now, policy)
    if not eligibility.eligible:
        raise PolicyViolation(" ".join(eligibility.reasons))
    most = eligibility.refundable_cents
    if amount_cents > most:
        raise PolicyViolation(
            f"The most that can be refunded on order {order.order_number} is "
            f"{format_money(most, order.currency)}."
        )
    return [
        *eligibility.reasons[:1],
        f"{format_money(amount_cents, order.currency)} does not exceed the refundable "
        f"{format_money(most, order.currency)} (paid {format_money(order.paid_cents, order.currency)}, "
        f"already refunded {format_money(order.refunded_cents, order.currency)}, final sale excluded).",
        _limit_check(order, amount_cents, policy),
        _destination(order, policy),
    ]


def check_daily_refunds(refunds_today: int, policy: TenantPolicy = DEFAULT_POLICY) -> str:
    """Rule 10, counted over the shop's refunds since midnight UTC."""
    if refunds_today >= policy.max_refunds_per_day:
        raise PolicyViolation(
            f"The shop has reached its limit of {policy.max_refunds_per_day} refunds today; a supervisor "
            "must handle this one: escalate to a person (policy_exception)."
        )
    return f"{refunds_today} of the shop's {policy.max_refunds_per_day} refunds allowed today were issued."


def check_cancellation(order: Order, now: datetime, policy: TenantPolicy = DEFAULT_POLICY) -> list[str]:
    """Rule 2 (and 8 for the refund it triggers); returns the checks that passed."""
    number = order.order_number
    if order.status in ("shipped", "in_transit"):
        raise PolicyViolation(
            f"Order {number} has already shipped, so it can no longer be cancelled; once it is delivered "
            f"it can be refunded within {policy.refund_window_days} days."
        )
    if order.status == "delivered":
        raise PolicyViolation(f"Order {number} was already delivered; ask for a refund instead.")
    if order.status != "processing":
        raise PolicyViolation(f"Order {number} was {order.status}; there is nothing left to cancel.")
    back = remaining_paid_cents(order)
    checks = [
        f"Order {number} has not shipped yet (status processing).",
        f"Cancelling refunds the full amount paid: {format_money(back, order.currency)}.",
    ]
    if back:
        checks += [_limit_check(order, back, policy), _destination(order, policy)]
    return checks


def check_address_change(order: Order, address: Address, policy: TenantPolicy = DEFAULT_POLICY) -> list[str]:
    """Rule 9; returns the checks that passed."""
    if order.status != "processing":
        raise PolicyViolation(
            f"Order {order.order_number} has already {'shipped' if order.shipped_at else order.status}, "
            f"so its shipping address can no longer be changed."
        )
    if address.country not in policy.shipping_countries:
        raise PolicyViolation(f"We ship only to {', '.join(policy.shipping_countries)}.")
    return [
        f"Order {order.order_number} has not shipped yet (status processing).",
        f"{address.country} is a country we ship to.",
    ]
