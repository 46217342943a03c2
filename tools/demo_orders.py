"""Draws the demo shop's orders: timelines, items, payments, refunds and the scripted examples."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from tools.backends.sql_models import CustomerRow, OrderItemRow, OrderRow, PaymentRow, RefundRow
from tools.demo_catalog import CARD_BRANDS, CARRIERS, PRODUCTS, Place, Product

HISTORY_DAYS = 120
_BY_SKU = {p.sku: p for p in PRODUCTS}
_CANCEL_REASONS = ("customer_request", "ordered_by_mistake", "delivery_too_slow")
_PARTIAL_REASONS = ("damaged", "late_delivery", "not_as_described", "defective")


@dataclass
class DemoOrder:
    row: OrderRow
    items: list[OrderItemRow]
    payments: list[PaymentRow]
    refunds: list[RefundRow]


@dataclass
class DemoCustomer:
    row: CustomerRow
    place: Place


class OrderMaker:
    """Every order hangs off `now` (the start of the seeding day) and draws from the shared Random."""

    def __init__(self, rng: random.Random, tenant: str, now: datetime) -> None:
        self.rng, self.tenant, self.now = rng, tenant, now

    def scripted(self, dana: DemoCustomer, marcus: DemoCustomer) -> list[tuple[str, DemoOrder]]:
        """Orders the demos and tests rely on: one of each situation the refund policy knows."""
        o = partial(self._order, single=True)
        return [
            ("delivered_refundable", o(dana, 10, 1.5, 4.2, ["NB-TENT-2P", "NB-HEAD-350"])),
            ("in_transit", o(dana, 4, 1.0, None, ["NB-JKT-RAIN"], expected_in=5)),
            ("processing", o(dana, 0.25, None, None, ["NB-BOOT-HKR", "NB-SOCK-3PK"])),
            ("delivered_old", o(dana, 52, 1.2, 5.0, ["NB-BLKT-WOOL", "NB-MUG-ENM"])),
            (
                "partially_refunded",
                o(
                    dana,
                    18,
                    0.8,
                    4.0,
                    ["NB-COOK-SET", "NB-STOVE-1B", "NB-ENGR-FLASK"],
                    partial=("damaged", 0.3),
                ),
            ),
            ("delivered_refundable", o(marcus, 7, 1.1, 3.6, ["NB-PACK-28L", "NB-BOTL-1L"])),
            ("delivered_over_limit", o(marcus, 9, 0.9, 5.1, ["NB-TENT-4P", "NB-COOL-45Q", "NB-JKT-DOWN"])),
            ("in_transit", o(marcus, 5, 1.1, None, ["NB-PACK-45L"], expected_in=6)),
            ("processing", o(marcus, 0.6, None, None, ["NB-LAMP-BRS"])),
            ("delivered_old", o(marcus, 70, 1.0, 4.0, ["NB-RUG-JUTE"])),
            ("lost_in_transit", o(marcus, 24, 1.3, None, ["NB-POLE-CRB"], expected_in=5)),
            ("final_sale_only", o(marcus, 14, 1.0, 3.0, ["NB-GIFT-50", "NB-CLR-FLEECE"])),
        ]

    def generic(self, customer: DemoCustomer) -> DemoOrder:
        rng = self.rng
        age = rng.uniform(0.1, HISTORY_DAYS)
        skus = [p.sku for p in rng.sample(PRODUCTS, rng.choices((1, 2, 3, 4), (50, 30, 14, 6))[0])]
        ship_after, transit = rng.uniform(0.4, 2.0), rng.uniform(2.0, 7.0)
        roll = rng.random()
        if roll < 0.06:
            return self._order(customer, age, None, None, skus, cancel=True)
        if roll < 0.075 and age > 20:  # the carrier lost it
            return self._order(customer, age, ship_after, None, skus, expected_in=5)
        order = self._order(
            customer,
            age,
            ship_after,
            transit,
            skus,
            returned=roll > 0.95 and age > transit + 12,
            partial=(rng.choice(_PARTIAL_REASONS), rng.uniform(0.15, 0.4)) if roll > 0.88 else None,
            full=0.86 < roll <= 0.88,
        )
        return order

    def _order(
        self,
        customer: DemoCustomer,
        age_days: float,
        ship_after: float | None,
        transit: float | None,
        skus: list[str],
        *,
        expected_in: float | None = None,  # days after shipping the carrier promised; None: from transit
        cancel: bool = False,
        returned: bool = False,
        partial: tuple[str, float] | None = None,
        full: bool = False,
        single: bool = False,
    ) -> DemoOrder:
        """One order `age_days` old; None for ship_after/transit means it has not shipped/arrived yet."""
        rng, now, c = self.rng, self.now, customer.row
        placed = (now - timedelta(days=age_days)).replace(microsecond=0)
        shipped = placed + timedelta(days=ship_after) if ship_after is not None else None
        if shipped is not None and shipped >= now:
            shipped = None
        delivered = shipped + timedelta(days=transit) if shipped and transit is not None else None
        if delivered is not None and delivered >= now:
            delivered = None
        items = [self._item(_BY_SKU[sku], single) for sku in skus]
        subtotal = sum(i.quantity * i.unit_price_cents for i in items)
        shipping = 0 if subtotal >= 7_500 else 795
        tax = subtotal * customer.place.tax_rate_bp // 10_000
        status = (
            "delivered"
            if delivered
            else (
                "processing"
                if shipped is None
                else "shipped"
                if now - shipped < timedelta(days=1)
                else "in_transit"
            )
        )
        eta = (shipped or placed + timedelta(days=2)) + timedelta(
            days=expected_in if expected_in is not None else (transit or 4) + rng.choice((-1, 0, 0, 1))
        )
        row = OrderRow(
            tenant=self.tenant,
            order_number="",
            customer_id=c.customer_id,
            status=status,
            placed_at=placed,
            shipped_at=shipped,
            delivered_at=delivered,
            expected_delivery=eta.date(),
            ship_street=c.street,
            ship_street2=c.street2,
            ship_city=c.city,
            ship_region=c.region,
            ship_postal_code=c.postal_code,
            ship_country=c.country,
            subtotal_cents=subtotal,
            shipping_cents=shipping,
            tax_cents=tax,
            total_cents=subtotal + shipping + tax,
            currency="USD",
            updated_at=placed,
        )
        if shipped is not None:
            row.carrier = rng.choice(CARRIERS)
            row.tracking_number = self._tracking(row.carrier)
        payment = self._payment(row)
        order = DemoOrder(row, items, [payment], [])
        if cancel:
            self._cancel(order)
        elif delivered is not None:
            share = _non_final_share(order)
            if returned:
                row.status = "returned"
                self._refund(order, share, "returned", delivered + timedelta(days=rng.uniform(4, 10)))
            elif full and share:
                self._refund(order, share, "damaged", delivered + timedelta(days=rng.uniform(1, 6)))
            elif partial and share:
                reason, fraction = partial
                amount = max(500, int(share * fraction) // 100 * 100)
                self._refund(order, min(amount, share), reason, delivered + timedelta(days=rng.uniform(1, 5)))
        return order

    def _item(self, product: Product, single: bool) -> OrderItemRow:
        qty = 1 if single or product.final_sale else self.rng.choices((1, 2, 3), (80, 15, 5))[0]
        return OrderItemRow(
            tenant=self.tenant,
            order_id=0,
            sku=product.sku,
            name=product.name,
            quantity=qty,
            unit_price_cents=product.price_cents,
            final_sale=product.final_sale,
        )

    def _payment(self, row: OrderRow) -> PaymentRow:
        rng = self.rng
        method = rng.choices(("card", "paypal", "gift_card"), (75, 18, 7))[0]
        return PaymentRow(
            tenant=self.tenant,
            order_id=0,
            method=method,
            card_brand=rng.choice(CARD_BRANDS) if method == "card" else None,
            last4=f"{rng.randint(0, 9999):04d}" if method == "card" else None,
            amount_cents=row.total_cents,
            status="captured",
            created_at=row.placed_at + timedelta(seconds=rng.randint(5, 90)),
        )

    def _cancel(self, order: DemoOrder) -> None:
        rng, row = self.rng, order.row
        row.status = "cancelled"
        row.cancelled_at = min(
            row.placed_at + timedelta(hours=rng.uniform(0.2, 20)), self.now - timedelta(minutes=5)
        )
        row.carrier = row.tracking_number = None
        row.shipped_at = row.delivered_at = row.expected_delivery = None
        if rng.random() < 0.3:
            row.cancel_reason = "payment_failed"
            order.payments[0].status = "failed"
        else:
            row.cancel_reason = rng.choice(_CANCEL_REASONS)
            self._refund(order, row.total_cents, "order_cancelled", row.cancelled_at)

    def _refund(self, order: DemoOrder, amount: int, reason: str, at: datetime) -> None:
        at = min(at, self.now - timedelta(minutes=1)).replace(microsecond=0)
        refund_id = "RF-" + "".join(self.rng.choices("0123456789ABCDEF", k=8))
        status = "succeeded" if self.now - at > timedelta(days=7) else "pending"
        order.refunds.append(
            RefundRow(
                tenant=self.tenant,
                refund_id=refund_id,
                order_id=0,
                amount_cents=amount,
                reason=reason,
                status=status,
                created_at=at,
                idempotency_key=f"seed:{self.tenant}:{refund_id}",
            )
        )

    def _tracking(self, carrier: str) -> str:
        rng = self.rng
        if carrier == "UPS":
            return (
                "1Z"
                + "".join(rng.choices(string.ascii_uppercase + string.digits, k=6))
                + "03"
                + "".join(rng.choices(string.digits, k=8))
            )
        if carrier == "FedEx":
            return "".join(rng.choices(string.digits, k=12))
        return "9400" + "".join(rng.choices(string.digits, k=18))


def _non_final_share(order: DemoOrder) -> int:
    """Mirrors tools.policy.refundable_cents for a fresh order (nothing refunded yet)."""
    subtotal = sum(i.quantity * i.unit_price_cents for i in order.items)
    eligible = sum(i.quantity * i.unit_price_cents for i in order.items if not i.final_sale)
    paid = sum(p.amount_cents for p in order.payments if p.status == "captured")
    return paid * eligible // subtotal if subtotal else 0
