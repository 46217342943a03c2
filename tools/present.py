"""Store records as the model reads them: decimal strings for money, ISO dates, no card numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tools.money import decimal_str
from tools.policy import Eligibility
from tools.schemas import Address, Order, Refund


def day(moment: datetime | date | None) -> str | None:
    return moment.strftime("%Y-%m-%d") if moment else None


def address_view(address: Address) -> dict[str, Any]:
    return address.model_dump()


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "refund_id": refund.refund_id,
        "amount": decimal_str(refund.amount_cents),
        "status": refund.status,
        "reason": refund.reason,
        "created_at": day(refund.created_at),
    }


def order_view(order: Order) -> dict[str, Any]:
    payment = order.original_payment
    return {
        "order_number": order.order_number,
        "status": order.status,
        "placed_at": day(order.placed_at),
        "shipped_at": day(order.shipped_at),
        "delivered_at": day(order.delivered_at),
        "cancelled_at": day(order.cancelled_at),
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "expected_delivery": day(order.expected_delivery) if order.status != "cancelled" else None,
        "items": [
            {
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price": decimal_str(item.unit_price_cents),
                "final_sale": item.final_sale,
            }
            for item in order.items
        ],
        "currency": order.currency,
        "subtotal": decimal_str(order.subtotal_cents),
        "shipping": decimal_str(order.shipping_cents),
        "tax": decimal_str(order.tax_cents),
        "total": decimal_str(order.total_cents),
        "paid": decimal_str(order.paid_cents),
        "paid_with": payment.label if payment else None,
        "refunded": decimal_str(order.refunded_cents),
        "refunds": [refund_view(r) for r in order.refunds],
        "shipping_address": address_view(order.shipping_address),
    }


def eligibility_view(eligibility: Eligibility) -> dict[str, Any]:
    view: dict[str, Any] = {
        "eligible": eligibility.eligible,
        "refundable_amount": decimal_str(eligibility.refundable_cents),
        "window_ends": day(eligibility.window_ends),
        "reasons": eligibility.reasons,
        "suggested_action": eligibility.suggested_action,
    }
    if eligibility.suggested_action == "cancel":
        view["cancellation_refund_amount"] = decimal_str(eligibility.cancellation_refund_cents)
    return view
