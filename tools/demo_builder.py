"""Draws the Northbeam demo shop (customers, orders, payments, refunds, tickets) as unsaved rows."""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from tools.backends.sql_models import CustomerRow, OrderItemRow, OrderRow, PaymentRow, RefundRow, TicketRow
from tools.demo_catalog import (
    CARD_BRANDS,
    CARRIERS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PLACES,
    PRODUCTS,
    STREET_NAMES,
    TICKET_TEMPLATES,
    Place,
    Product,
)

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


@dataclass
class DemoShop:
    customers: list[DemoCustomer]
    orders: list[DemoOrder]
    tickets: list[TicketRow]
    examples: dict[str, dict[str, str]]


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class DemoBuilder:
    """Draws the whole shop from one Random seeded by the tenant name; dates hang off `today`."""

    def __init__(self, tenant: str, today: date) -> None:
        self.tenant = tenant
        self.now = _utc_midnight(today)  # every event happens before the start of `today`
        seed = int.from_bytes(hashlib.sha256(tenant.encode()).digest()[:8], "big")
        self.rng = random.Random(seed)

    def build(self, n_orders: int) -> DemoShop:
        customers = self._customers(80)
        dana, marcus, others = customers[0], customers[1], customers[2:]
        scripted = self._scripted(dana, marcus)
        weights = [self.rng.uniform(0.3, 3.0) for _ in others]
        built: list[tuple[str | None, DemoOrder]] = list(scripted)
        for _ in range(max(0, n_orders - len(scripted))):
            customer = self.rng.choices(others, weights)[0]
            built.append((None, self._generic_order(customer)))
        built.sort(key=lambda pair: pair[1].row.placed_at)
        number = 103_000 + self.rng.randrange(1_000)
        examples: dict[str, dict[str, str]] = {dana.row.customer_id: {}, marcus.row.customer_id: {}}
        for label, order in built:
            number += self.rng.randint(1, 9)
            order.row.order_number = f"ORD-{number}"
            if label:
                examples[order.row.customer_id][label] = order.row.order_number
        orders = [order for _, order in built]
        return DemoShop(customers, orders, self._tickets(customers, orders), examples)

    # --- people -------------------------------------------------------------------------------------
    def _customers(self, count: int) -> list[DemoCustomer]:
        rng = self.rng
        people = [
            self._customer(
                1001,
                "Dana",
                "Whitfield",
                "dana.w@example.com",
                PLACES[0],
                "(503) 555-0118",
                "2417 Alder St",
                None,
            ),
            self._customer(
                1002,
                "Marcus",
                "Chen",
                "marcus.chen@example.net",
                PLACES[3],
                "(303) 555-0164",
                "88 Summit Ave",
                "Apt 3C",
            ),
        ]
        names = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
        for n, (first, last) in enumerate(rng.sample(names, count - len(people)), start=1003):
            place = rng.choice(PLACES)
            email = rng.choice(
                (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[0]}{rng.randint(7, 99)}")
            )
            phone = f"{place.area_code}-555-01{rng.randint(0, 99):02d}"
            phone = rng.choice((phone, f"({place.area_code}) {phone[4:]}", f"+1 {phone}"))
            street2 = rng.choice(
                (
                    None,
                    None,
                    None,
                    f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}",
                    f"Unit {rng.randint(100, 999)}",
                )
            )
            people.append(
                self._customer(
                    n,
                    first,
                    last,
                    f"{email.lower()}@{rng.choice(EMAIL_DOMAINS)}",
                    place,
                    phone,
                    f"{rng.randint(12, 9800)} {rng.choice(STREET_NAMES)}",
                    street2,
                )
            )
        return people

    def _customer(
        self,
        n: int,
        first: str,
        last: str,
        email: str,
        place: Place,
        phone: str,
        street: str,
        street2: str | None,
    ) -> DemoCustomer:
        created = self.now - timedelta(days=self.rng.uniform(HISTORY_DAYS + 10, 1200))
        row = CustomerRow(
            tenant=self.tenant,
            customer_id=f"CUS-{n}",
            name=f"{first} {last}",
            email=email,
            phone=phone,
            street=street,
            street2=street2,
            city=place.city,
            region=place.region,
            postal_code=place.postal_code,
            country=place.country,
            created_at=created.replace(microsecond=0),
        )
        return DemoCustomer(row, place)

    # --- orders -------------------------------------------------------------------------------------
    def _scripted(self, dana: DemoCustomer, marcus: DemoCustomer) -> list[tuple[str, DemoOrder]]:
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
            ("in_transit", o(marcus, 5, 1.1, None, ["NB-PACK-45L"], expected_in=3)),
            ("processing", o(marcus, 0.6, None, None, ["NB-LAMP-BRS"])),
            ("delivered_old", o(marcus, 70, 1.0, 4.0, ["NB-RUG-JUTE"])),
            ("lost_in_transit", o(marcus, 24, 1.3, None, ["NB-POLE-CRB"], expected_in=-15)),
            ("final_sale_only", o(marcus, 14, 1.0, 3.0, ["NB-GIFT-50", "NB-CLR-FLEECE"])),
        ]

    def _generic_order(self, customer: DemoCustomer) -> DemoOrder:
        rng = self.rng
        age = rng.uniform(0.1, HISTORY_DAYS)
        skus = [p.sku for p in rng.sample(PRODUCTS, rng.choices((1, 2, 3, 4), (50, 30, 14, 6))[0])]
        ship_after, transit = rng.uniform(0.4, 2.0), rng.uniform(2.0, 7.0)
        roll = rng.random()
        if roll < 0.06:
            return self._order(customer, age, None, None, skus, cancel=True)
        if roll < 0.075 and age > 20:  # the carrier lost it
            return self._order(customer, age, ship_after, None, skus, expected_in=-(age - 10))
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
        expected_in: float | None = None,
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

    # --- tickets ------------------------------------------------------------------------------------
    def _tickets(self, customers: list[DemoCustomer], orders: list[DemoOrder]) -> list[TicketRow]:
        rng, tickets = self.rng, []
        by_customer: dict[str, list[DemoOrder]] = {}
        for placed in orders:
            by_customer.setdefault(placed.row.customer_id, []).append(placed)
        for customer in rng.sample(customers[2:], 24):
            mine = by_customer.get(customer.row.customer_id)
            order: DemoOrder | None = rng.choice(mine) if mine else None
            queue, priority, reason, subject = rng.choice(TICKET_TEMPLATES)
            product = order.items[0].name if order else rng.choice(PRODUCTS).name
            number = order.row.order_number if order else None
            since = order.row.placed_at if order else self.now - timedelta(days=HISTORY_DAYS)
            created = (since + (self.now - since) * rng.uniform(0.05, 0.95)).replace(microsecond=0)
            age = self.now - created
            status = (
                "open" if age < timedelta(days=3) else rng.choice(("pending", "solved", "closed", "solved"))
            )
            tickets.append(
                TicketRow(
                    tenant=self.tenant,
                    ticket_id=f"TCK-{rng.randint(10_000_000, 99_999_999)}",
                    customer_id=customer.row.customer_id,
                    order_number=number,
                    subject=subject.format(order=number or "my order", product=product),
                    summary=f"{customer.row.name} contacted support: {reason.lower()}.",
                    queue=queue,
                    priority=priority,
                    status=status,
                    reason=reason,
                    kind="routed",
                    created_at=created,
                )
            )
        return tickets


def _non_final_share(order: DemoOrder) -> int:
    """Mirrors tools.policy.refundable_cents for a fresh order (nothing refunded yet)."""
    subtotal = sum(i.quantity * i.unit_price_cents for i in order.items)
    eligible = sum(i.quantity * i.unit_price_cents for i in order.items if not i.final_sale)
    paid = sum(p.amount_cents for p in order.payments if p.status == "captured")
    return paid * eligible // subtotal if subtotal else 0
