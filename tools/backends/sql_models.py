"""The demo shop's SQLModel tables (prefixed `shop_`); every row carries its tenant."""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and hands back aware datetimes, so SQLite and PostgreSQL compare the same way."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CustomerRow(SQLModel, table=True):
    __tablename__ = "shop_customers"
    __table_args__ = (UniqueConstraint("tenant", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    customer_id: str = Field(max_length=32)  # CUS-1001
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, index=True)
    phone: str | None = Field(default=None, max_length=40)
    street: str = Field(max_length=200)
    street2: str | None = Field(default=None, max_length=200)
    city: str = Field(max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(max_length=20)
    country: str = Field(max_length=2)
    created_at: datetime = Field(sa_type=UTCDateTime)


class OrderRow(SQLModel, table=True):
    __tablename__ = "shop_orders"
    __table_args__ = (UniqueConstraint("tenant", "order_number"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    order_number: str = Field(max_length=16)  # ORD-104233
    customer_id: str = Field(index=True, max_length=32)
    status: str = Field(max_length=20)
    placed_at: datetime = Field(sa_type=UTCDateTime)
    shipped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = Field(default=None, max_length=200)
    carrier: str | None = Field(default=None, max_length=40)
    tracking_number: str | None = Field(default=None, max_length=40)
    expected_delivery: date | None = None
    ship_street: str = Field(max_length=200)
    ship_street2: str | None = Field(default=None, max_length=200)
    ship_city: str = Field(max_length=100)
    ship_region: str | None = Field(default=None, max_length=100)
    ship_postal_code: str = Field(max_length=20)
    ship_country: str = Field(max_length=2)
    subtotal_cents: int
    shipping_cents: int
    tax_cents: int
    total_cents: int
    currency: str = Field(default="USD", max_length=3)
    # Written by every change; the first statement of a change transaction, so it also serialises
    # concurrent changes of one order (a row lock on PostgreSQL, the write lock on SQLite).
    updated_at: datetime = Field(sa_type=UTCDateTime)


class OrderItemRow(SQLModel, table=True):
    __tablename__ = "shop_order_items"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64)
    order_id: int = Field(foreign_key="shop_orders.id", index=True)
    sku: str = Field(max_length=32)
    name: str = Field(max_length=200)
    quantity: int
    unit_price_cents: int
    final_sale: bool = False


class PaymentRow(SQLModel, table=True):
    __tablename__ = "shop_payments"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64)
    order_id: int = Field(foreign_key="shop_orders.id", index=True)
    method: str = Field(max_length=20)
    card_brand: str | None = Field(default=None, max_length=20)
    last4: str | None = Field(default=None, max_length=4)
    amount_cents: int
    status: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)


class RefundRow(SQLModel, table=True):
    __tablename__ = "shop_refunds"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64)
    refund_id: str = Field(unique=True, max_length=16)  # RF-8F2C91A0
    order_id: int = Field(foreign_key="shop_orders.id", index=True)
    amount_cents: int
    reason: str = Field(max_length=40)
    note: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # The last line of defence against paying twice: one refund per approval, whatever raced.
    idempotency_key: str = Field(unique=True, max_length=128)


class OrderChangeRow(SQLModel, table=True):
    """Every executed sensitive action, keyed by its approval's idempotency key; replayed on retries."""

    __tablename__ = "shop_order_changes"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=64)
    order_number: str = Field(max_length=16)
    kind: str = Field(max_length=20)
    idempotency_key: str = Field(unique=True, max_length=128)
    actor: str | None = Field(default=None, max_length=128)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)


class TicketRow(SQLModel, table=True):
    __tablename__ = "shop_tickets"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    ticket_id: str = Field(unique=True, max_length=16)  # TCK-48213377
    customer_id: str | None = Field(default=None, index=True, max_length=32)
    order_number: str | None = Field(default=None, max_length=16)
    subject: str = Field(max_length=200)
    summary: str = Field(max_length=2000)
    queue: str = Field(max_length=20)
    priority: str = Field(max_length=10)
    status: str = Field(max_length=10)
    reason: str = Field(max_length=500)
    kind: str = Field(default="routed", max_length=20)
    conversation_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)


class SeedRunRow(SQLModel, table=True):
    """Marks a tenant as seeded (the primary key makes two concurrent seeds collide, not duplicate)."""

    __tablename__ = "shop_seed_runs"

    tenant: str = Field(primary_key=True, max_length=64)
    seeded_for: date
    report: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
