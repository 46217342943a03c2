"""The demo shop: deterministic per tenant and day, written once, realistic enough to exercise the tools."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, func, select

from tests.tools.store_fixtures import NOW, TODAY, Shop, sqlite_engine
from tools.backends.sql import SqlStoreBackend
from tools.backends.sql_models import (
    CustomerRow,
    OrderItemRow,
    OrderRow,
    PaymentRow,
    RefundRow,
    SeedRunRow,
    TicketRow,
)
from tools.demo_data import seed_demo
from tools.policy import refund_eligibility
from tools.schemas import ORDER_STATUSES

SHOP_TABLES = (CustomerRow, OrderRow, OrderItemRow, PaymentRow, RefundRow, TicketRow)


def dump(engine: Engine, tenant: str) -> dict[str, list[dict[str, Any]]]:
    """Every shop row of a tenant, without surrogate keys, in a stable order."""
    with Session(engine) as session:
        out = {}
        for table in SHOP_TABLES:
            rows = session.exec(select(table).where(table.tenant == tenant)).all()
            out[table.__tablename__] = sorted(
                (r.model_dump(exclude={"id", "order_id"}) for r in rows), key=repr
            )
        return out


def count(engine: Engine, table: type[SQLModel], tenant: str) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table).where(table.tenant == tenant)).one()


def test_same_tenant_and_day_give_identical_rows(tmp_path: Path) -> None:
    first, second = sqlite_engine(tmp_path / "a.db"), sqlite_engine(tmp_path / "b.db")
    report_a = seed_demo(first, tenant="default", today=TODAY)
    report_b = seed_demo(second, tenant="default", today=TODAY)
    assert report_a == report_b
    rows = dump(first, "default")
    assert rows == dump(second, "default")
    assert len(rows["shop_orders"]) == 300


def test_different_tenants_get_different_shops(shop_ro: Shop) -> None:
    default, acme = dump(shop_ro.engine, "default"), dump(shop_ro.engine, "acme")
    assert default["shop_customers"][0]["tenant"] == "default"
    names = lambda rows: {r["name"] for r in rows if r["customer_id"] not in ("CUS-1001", "CUS-1002")}  # noqa: E731
    assert names(default["shop_customers"]) != names(acme["shop_customers"])
    assert {r["order_number"] for r in default["shop_orders"]} != {
        r["order_number"] for r in acme["shop_orders"]
    }
    # The scripted customers exist in every tenant.
    assert shop_ro.backend.get_customer("acme", "CUS-1001").name == "Dana Whitfield"  # type: ignore[union-attr]


def test_seed_is_idempotent(shop: Shop) -> None:
    before = {t.__tablename__: count(shop.engine, t, "default") for t in SHOP_TABLES}
    again = seed_demo(shop.engine, tenant="default", today=TODAY + timedelta(days=3))
    assert again.created is False
    assert again.examples == shop.report.examples and again.seeded_for == TODAY
    assert {t.__tablename__: count(shop.engine, t, "default") for t in SHOP_TABLES} == before


def test_concurrent_seeds_of_one_tenant_write_once(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "race.db")
    barrier, reports = threading.Barrier(2), []

    def seed() -> None:
        barrier.wait()
        reports.append(seed_demo(engine, tenant="default", today=TODAY))

    threads = [threading.Thread(target=seed) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.created for r in reports) == [False, True]
    assert count(engine, OrderRow, "default") == 300
    with Session(engine) as session:
        assert len(session.exec(select(SeedRunRow)).all()) == 1


@pytest.mark.parametrize("today", [TODAY, date(2031, 1, 1)])
def test_scripted_customers_have_every_refund_situation(tmp_path: Path, today: date) -> None:
    engine = sqlite_engine(tmp_path / "shop.db")
    report = seed_demo(engine, tenant="default", today=today)
    backend, now = SqlStoreBackend(engine), NOW + (today - TODAY)
    dana = backend.customer_profile("default", "CUS-1001")
    assert dana is not None
    assert (dana.customer.name, dana.customer.email) == ("Dana Whitfield", "dana.w@example.com")
    expected = {
        "delivered_refundable": ("delivered", "refund"),
        "in_transit": ("in_transit", "wait_for_delivery"),
        "processing": ("processing", "cancel"),
        "delivered_old": ("delivered", "none"),
        "partially_refunded": ("delivered", "refund"),
        "delivered_over_limit": ("delivered", "refund"),
        "lost_in_transit": ("in_transit", "escalate"),
        "final_sale_only": ("delivered", "none"),
    }
    for customer in ("CUS-1001", "CUS-1002"):
        for label, number in report.examples[customer].items():
            order = backend.get_order("default", number)
            assert order is not None and order.customer_id == customer
            status, action = expected[label]
            eligibility = refund_eligibility(order, now)
            assert (order.status, eligibility.suggested_action) == (status, action), (customer, label)
            if label == "delivered_old":
                assert order.delivered_at is not None and now - order.delivered_at > timedelta(days=30)
    for label in ("delivered_refundable", "in_transit", "processing", "delivered_old"):
        assert label in report.examples["CUS-1001"] and label in report.examples["CUS-1002"]
    over = backend.get_order("default", report.examples["CUS-1002"]["delivered_over_limit"])
    assert over is not None and over.paid_cents > 50_000
    partial = backend.get_order("default", report.examples["CUS-1001"]["partially_refunded"])
    assert partial is not None and 0 < partial.refunded_cents < partial.paid_cents


def test_shop_covers_every_state_and_money_case(shop_ro: Shop) -> None:
    with Session(shop_ro.engine) as session:
        orders = session.exec(select(OrderRow).where(OrderRow.tenant == "default")).all()
        refunds = session.exec(select(RefundRow).where(RefundRow.tenant == "default")).all()
        items = session.exec(select(OrderItemRow).where(OrderItemRow.tenant == "default")).all()
        payments = session.exec(select(PaymentRow).where(PaymentRow.tenant == "default")).all()
    assert set(Counter(o.status for o in orders)) == set(ORDER_STATUSES)
    assert len({o.order_number for o in orders}) == len(orders)
    assert all(re.fullmatch(r"ORD-\d{6}", o.order_number) for o in orders)
    assert all(o.total_cents == o.subtotal_cents + o.shipping_cents + o.tax_cents for o in orders)
    for o in orders:  # a timeline that makes sense: placed <= shipped <= delivered, promised after shipping
        assert o.placed_at <= (o.shipped_at or o.placed_at) <= (o.delivered_at or o.shipped_at or o.placed_at)
        if o.expected_delivery is not None:
            assert o.expected_delivery >= (o.shipped_at or o.placed_at).date(), o.order_number
        assert (o.carrier is None) is (o.shipped_at is None)
    by_order = {o.id: o for o in orders}
    refunded = Counter()
    for r in refunds:
        refunded[r.order_id] += r.amount_cents
    partial = [i for i, cents in refunded.items() if cents < by_order[i].total_cents]
    full = [i for i, cents in refunded.items() if cents == by_order[i].total_cents]
    assert partial and full
    assert any(i.final_sale for i in items) and {p.method for p in payments} == {
        "card",
        "paypal",
        "gift_card",
    }
    placed = [o.placed_at for o in orders]
    assert NOW - min(placed) <= timedelta(days=121) and max(placed) < NOW
    assert count(shop_ro.engine, TicketRow, "default") >= 20


def test_people_look_real(shop_ro: Shop) -> None:
    """Realistic contact details are what the PII redactor is tested against."""
    page = shop_ro.backend.list_customers("default", limit=200)
    assert page.total == 80
    for customer in page.items:
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", customer.name), customer.name
        assert re.fullmatch(r"[a-z0-9.]+@(mail\.)?example\.(com|net|org)", customer.email), customer.email
        region = "CA" if customer.address.country == "CA" else "US"
        assert phonenumbers.is_valid_number(phonenumbers.parse(customer.phone or "", region)), customer.phone
        assert re.fullmatch(r"\d+ [A-Z][a-z]+( [A-Z][a-z]+)* [A-Z][a-z]+", customer.address.street)
