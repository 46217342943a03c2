"""Table rows to store records: the only place that knows both shapes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from tools.backends.sql_models import (
    CustomerRow,
    OrderChangeRow,
    OrderItemRow,
    OrderRow,
    PaymentRow,
    RefundRow,
    TicketRow,
)
from tools.schemas import (
    Address,
    Change,
    Customer,
    Order,
    OrderItem,
    OrderSummary,
    Payment,
    Refund,
    Ticket,
)


def customer_record(row: CustomerRow) -> Customer:
    address = Address(
        street=row.street,
        street2=row.street2,
        city=row.city,
        region=row.region,
        postal_code=row.postal_code,
        country=row.country,
    )
    return Customer(
        customer_id=row.customer_id,
        name=row.name,
        email=row.email,
        phone=row.phone,
        address=address,
        created_at=row.created_at,
    )


def order_record(
    row: OrderRow, items: Sequence[OrderItemRow], payments: Sequence[PaymentRow], refunds: Sequence[RefundRow]
) -> Order:
    address = Address(
        street=row.ship_street,
        street2=row.ship_street2,
        city=row.ship_city,
        region=row.ship_region,
        postal_code=row.ship_postal_code,
        country=row.ship_country,
    )
    return Order.model_validate(
        {
            **row.model_dump(
                include={
                    "order_number",
                    "customer_id",
                    "status",
                    "placed_at",
                    "shipped_at",
                    "delivered_at",
                    "cancelled_at",
                    "carrier",
                    "tracking_number",
                    "expected_delivery",
                    "subtotal_cents",
                    "shipping_cents",
                    "tax_cents",
                    "total_cents",
                    "currency",
                }
            ),
            "shipping_address": address,
            "items": [
                OrderItem(
                    sku=i.sku,
                    name=i.name,
                    quantity=i.quantity,
                    unit_price_cents=i.unit_price_cents,
                    final_sale=i.final_sale,
                )
                for i in items
            ],
            "payments": [
                Payment.model_validate(p.model_dump(exclude={"id", "tenant", "order_id"})) for p in payments
            ],
            "refunds": [
                Refund.model_validate(
                    {**r.model_dump(exclude={"id", "tenant", "order_id"}), "order_number": row.order_number}
                )
                for r in refunds
            ],
        }
    )


def summary_record(row: OrderRow, item_count: int) -> OrderSummary:
    return OrderSummary(
        order_number=row.order_number,
        status=row.status,  # type: ignore[arg-type]
        placed_at=row.placed_at,
        delivered_at=row.delivered_at,
        total_cents=row.total_cents,
        currency=row.currency,
        item_count=item_count,
    )


def ticket_record(row: TicketRow) -> Ticket:
    return Ticket.model_validate(row.model_dump(exclude={"id", "tenant"}))


def change_record(row: OrderChangeRow, *, duplicate: bool = False) -> Change:
    return Change.model_validate(
        {
            **row.model_dump(exclude={"id", "tenant", "actor"}),
            "details": dict(row.details),
            "duplicate": duplicate,
        }
    )


def load_order(s: Session, row: OrderRow) -> Order:
    """The order with its items, payments and refunds (three small indexed queries)."""
    items = s.exec(select(OrderItemRow).where(OrderItemRow.order_id == row.id).order_by(col(OrderItemRow.id)))
    payments = s.exec(select(PaymentRow).where(PaymentRow.order_id == row.id).order_by(col(PaymentRow.id)))
    refunds = s.exec(
        select(RefundRow)
        .where(RefundRow.order_id == row.id)
        .order_by(col(RefundRow.created_at), col(RefundRow.id))
    )
    return order_record(row, items.all(), payments.all(), refunds.all())
