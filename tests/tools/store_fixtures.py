"""Test helpers for the tools package: SQLite files configured like the app's, a seeded demo shop."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import SQLModel, create_engine

import tools.backends.sql_models  # noqa: F401  (registers the shop tables)
from tools.backends.sql import SqlStoreBackend
from tools.base import ToolContext
from tools.demo_data import SeedReport, seed_demo
from tools.schemas import Address, Order, OrderItem, Payment, Refund

TODAY = date(2026, 3, 18)  # a Wednesday, so business-day arithmetic crosses a weekend
NOW = datetime.combine(TODAY, time(9, 30), tzinfo=UTC)


def sqlite_engine(path: Path, journal_mode: str = "wal") -> Engine:
    """The same connection set-up as api.db.make_engine (WAL, foreign keys, busy timeout)."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA journal_mode={journal_mode}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    SQLModel.metadata.create_all(engine)
    return engine


@dataclasses.dataclass
class Shop:
    engine: Engine
    backend: SqlStoreBackend
    report: SeedReport

    def order(self, customer: str, label: str) -> str:
        return self.report.examples[customer][label]

    def ctx(
        self,
        customer_id: str | None = "CUS-1001",
        *,
        tenant: str = "default",
        now: datetime = NOW,
        **extra: Any,
    ) -> ToolContext:
        return ToolContext(
            tenant=tenant,
            customer_id=customer_id,
            backend=self.backend,
            now=lambda: now,
            conversation_id="conv-test",
            actor="key-test",
            **extra,
        )


def open_shop(path: Path, report: SeedReport, journal_mode: str = "wal") -> Shop:
    engine = sqlite_engine(path, journal_mode)
    return Shop(engine, SqlStoreBackend(engine), report)


def build_shop(path: Path, journal_mode: str = "wal") -> Shop:
    """Seeds tenants "default" and "acme" (same day) into a new file."""
    engine = sqlite_engine(path, journal_mode)
    report = seed_demo(engine, tenant="default", today=TODAY)
    seed_demo(engine, tenant="acme", today=TODAY)
    return Shop(engine, SqlStoreBackend(engine), report)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def make_order(
    *,
    status: str = "delivered",
    delivered_ago: timedelta | None = timedelta(days=5),
    shipped_ago: timedelta | None = None,
    items: list[tuple[int, bool]] | None = None,  # (unit price cents, final sale), quantity 1 each
    refunds: list[tuple[int, str]] = (),  # type: ignore[assignment]  # (amount cents, status)
    payment_status: str = "captured",
    now: datetime = NOW,
) -> Order:
    """An order record for pure policy tests: total = items (no tax or shipping), paid in full by card."""
    lines = items or [(10_000, False)]
    total = sum(price for price, _ in lines)
    placed = now - timedelta(days=40) if delivered_ago is None else now - delivered_ago - timedelta(days=6)
    shipped = None
    if status in ("shipped", "in_transit", "delivered", "returned"):
        shipped = now - (
            shipped_ago if shipped_ago is not None else (delivered_ago or timedelta(0)) + timedelta(days=4)
        )
    delivered = (
        now - delivered_ago if status in ("delivered", "returned") and delivered_ago is not None else None
    )
    address = Address(street="12 Elm St", city="Portland", region="OR", postal_code="97205", country="US")
    return Order(
        order_number="ORD-100001",
        customer_id="CUS-1001",
        status=status,  # type: ignore[arg-type]
        placed_at=placed,
        shipped_at=shipped,
        delivered_at=delivered,
        shipping_address=address,
        subtotal_cents=total,
        shipping_cents=0,
        tax_cents=0,
        total_cents=total,
        currency="USD",
        items=[
            OrderItem(sku=f"NB-T{i}", name=f"Thing {i}", quantity=1, unit_price_cents=price, final_sale=final)
            for i, (price, final) in enumerate(lines)
        ],
        payments=[
            Payment(
                method="card",
                card_brand="Visa",
                last4="4242",
                amount_cents=total,
                status=payment_status,
                created_at=placed,
            )
        ],  # type: ignore[arg-type]
        refunds=[
            Refund(
                refund_id=f"RF-{i:08d}",
                order_number="ORD-100001",
                amount_cents=amount,
                reason="damaged",
                status=state,
                created_at=now - timedelta(days=1),
            )  # type: ignore[arg-type]
            for i, (amount, state) in enumerate(refunds)
        ],
    )
