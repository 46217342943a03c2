"""lookup_refund (read) and issue_refund (sensitive): refunds under the written policy."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tools.access import (
    owned_order,
    ownership_check,
    require_customer,
    require_idempotency_key,
    tenant_policy,
)
from tools.base import ToolContext, ToolSpec
from tools.errors import IdempotencyConflict
from tools.fields import Amount, OrderNumber, ToolArgs
from tools.money import decimal_str, to_cents
from tools.policy import check_daily_refunds, check_refund, refund_arrival, refund_eligibility
from tools.present import day, eligibility_view, refund_view
from tools.schemas import Change, Order

RefundReason = Literal[
    "damaged", "defective", "wrong_item", "not_as_described", "late_delivery", "changed_mind", "other"
]


class LookupRefundArgs(ToolArgs):
    order_number: OrderNumber


def lookup_refund(args: LookupRefundArgs, ctx: ToolContext) -> dict[str, Any]:
    order = owned_order(ctx, args.order_number)
    policy = tenant_policy(ctx)
    eligibility = refund_eligibility(order, ctx.now(), policy)
    payment = order.original_payment
    low, high = policy.refund_days
    return {
        "order_number": order.order_number,
        "status": order.status,
        "currency": order.currency,
        "paid": decimal_str(order.paid_cents),
        "refunded": decimal_str(order.refunded_cents),
        "refunds": [refund_view(r) for r in order.refunds],
        "eligibility": eligibility_view(eligibility),
        "refunds_go_to": payment.label if payment else None,
        "refunds_arrive_within": f"{low}-{high} business days",
    }


class IssueRefundArgs(ToolArgs):
    order_number: OrderNumber
    amount: Amount
    reason: RefundReason = Field(description="Why the customer is owed money.")
    note: str | None = Field(
        default=None, max_length=300, description="Optional short detail for the reviewing staff member."
    )


def check_issue_refund(args: IssueRefundArgs, ctx: ToolContext) -> list[str]:
    order = owned_order(ctx, args.order_number)
    policy = tenant_policy(ctx)
    return [
        ownership_check(order),
        *check_refund(order, to_cents(args.amount), ctx.now(), policy),
        check_daily_refunds(_refunds_today(ctx), policy),
    ]


def _refunds_today(ctx: ToolContext) -> int:
    now = ctx.now()
    return ctx.backend.count_refunds_since(ctx.tenant, now.replace(hour=0, minute=0, second=0, microsecond=0))


def issue_refund(args: IssueRefundArgs, ctx: ToolContext) -> dict[str, Any]:
    key, customer_id = require_idempotency_key(ctx), require_customer(ctx)
    policy, now, cents = tenant_policy(ctx), ctx.now(), to_cents(args.amount)
    if ctx.backend.find_change(ctx.tenant, key) is None:  # a replay of an executed refund is not counted
        check_daily_refunds(_refunds_today(ctx), policy)

    def guard(order: Order) -> None:
        check_refund(order, cents, now, policy)

    change = ctx.backend.record_refund(
        ctx.tenant,
        customer_id,
        args.order_number,
        amount_cents=cents,
        reason=args.reason,
        note=args.note,
        idempotency_key=key,
        now=now,
        actor=ctx.actor,
        guard=guard,
    )
    if change.details["amount_cents"] != cents:
        raise IdempotencyConflict("This approval was already used for a different refund amount.")
    low, high = refund_arrival(change.created_at, policy)
    return refund_result(change) | {"arrives_between": [day(low), day(high)]}


def refund_result(change: Change) -> dict[str, Any]:
    details = change.details
    return {
        "executed": True,
        "duplicate": change.duplicate,
        "order_number": change.order_number,
        "refund_id": details["refund_id"],
        "amount": decimal_str(details["amount_cents"]),
        "currency": details["currency"],
        "status": details["status"],
        "reason": details["reason"],
        "refunded_to": details["payment"],
        "refunded_total": decimal_str(details["refunded_total_cents"]),
    }


LOOKUP_REFUND = ToolSpec(
    name="lookup_refund",
    description=(
        "Check the refunds on one of the signed-in customer's orders and whether it can be refunded under "
        "the refund policy. Call it before answering any refund question and before proposing issue_refund "
        "or cancel_order. Returns refunds so far and an eligibility verdict: eligible, the most that can "
        "be refunded, the date the refund window ends, the reasons, and the suggested next step (refund, "
        "cancel, wait_for_delivery, escalate or none)."
    ),
    args_model=LookupRefundArgs,
    fn=lookup_refund,
)

ISSUE_REFUND = ToolSpec(
    name="issue_refund",
    description=(
        "Propose a refund to the original payment method on a delivered order of the signed-in customer. "
        "Use it only when the customer asks for a refund and lookup_refund says the order is eligible; "
        "the amount may not exceed the refundable amount. The refund policy is checked first and a "
        "refusal explains why. A staff member must approve the refund before any money moves, so tell "
        "the customer it is awaiting review."
    ),
    args_model=IssueRefundArgs,
    fn=issue_refund,
    sensitive=True,
    check=check_issue_refund,
)
