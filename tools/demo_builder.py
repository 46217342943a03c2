"""Draws the Northbeam demo shop (customers, orders, payments, refunds, tickets) as unsaved rows."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tools.backends.sql_models import CustomerRow, TicketRow
from tools.demo_catalog import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PLACES,
    PRODUCTS,
    STREET_NAMES,
    TICKET_TEMPLATES,
    Place,
)
from tools.demo_orders import HISTORY_DAYS, DemoCustomer, DemoOrder, OrderMaker


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
        self.orders = OrderMaker(self.rng, tenant, self.now)

    def build(self, n_orders: int) -> DemoShop:
        customers = self._customers(80)
        dana, marcus, others = customers[0], customers[1], customers[2:]
        scripted = self.orders.scripted(dana, marcus)
        weights = [self.rng.uniform(0.3, 3.0) for _ in others]
        built: list[tuple[str | None, DemoOrder]] = list(scripted)
        for _ in range(max(0, n_orders - len(scripted))):
            customer = self.rng.choices(others, weights)[0]
            built.append((None, self.orders.generic(customer)))
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
