"""Store records as tools see them: plain values any StoreBackend returns (SQL today, HTTP later)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, computed_field

OrderStatus = Literal["processing", "shipped", "in_transit", "delivered", "cancelled", "returned"]
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
PaymentMethod = Literal["card", "paypal", "gift_card"]
PaymentStatus = Literal["captured", "failed"]
RefundStatus = Literal["pending", "succeeded", "failed"]
TicketStatus = Literal["open", "pending", "solved", "closed"]
TicketKind = Literal["routed", "escalation"]
ChangeKind = Literal["refund", "cancellation", "address_change"]

T = TypeVar("T")


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Address(Record):
    street: str
    street2: str | None = None
    city: str
    region: str | None = None  # state or province
    postal_code: str
    country: str  # ISO 3166-1 alpha-2


class Customer(Record):
    customer_id: str
    name: str
    email: str
    phone: str | None
    address: Address
    created_at: datetime


class OrderItem(Record):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    final_sale: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def line_total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


class Payment(Record):
    method: PaymentMethod
    card_brand: str | None = None
    last4: str | None = None
    amount_cents: int
    status: PaymentStatus
    created_at: datetime

    @property
    def label(self) -> str:
        """How the customer recognises the payment method; never more than the last four digits."""
        if self.method == "card":
            return f"{self.card_brand or 'Card'} ending {self.last4}"
        return "PayPal" if self.method == "paypal" else "gift card"


class Refund(Record):
    refund_id: str
    order_number: str
    amount_cents: int
    reason: str
    note: str | None = None
    status: RefundStatus
    created_at: datetime


class Order(Record):
    order_number: str
    customer_id: str
    status: OrderStatus
    placed_at: datetime
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    expected_delivery: date | None = None
    shipping_address: Address
    subtotal_cents: int
    shipping_cents: int
    tax_cents: int
    total_cents: int
    currency: str
    items: list[OrderItem]
    payments: list[Payment]
    refunds: list[Refund]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def paid_cents(self) -> int:
        return sum(p.amount_cents for p in self.payments if p.status == "captured")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refunded_cents(self) -> int:
        """Pending refunds count: the money is already on its way back."""
        return sum(r.amount_cents for r in self.refunds if r.status != "failed")

    @property
    def original_payment(self) -> Payment | None:
        return next((p for p in self.payments if p.status == "captured"), None)


class OrderSummary(Record):
    order_number: str
    status: OrderStatus
    placed_at: datetime
    delivered_at: datetime | None
    total_cents: int
    currency: str
    item_count: int


class NewTicket(Record):
    customer_id: str | None
    order_number: str | None = None
    subject: str
    summary: str
    queue: str
    priority: str
    reason: str
    kind: TicketKind = "routed"
    conversation_id: str | None = None
    actor: str | None = None


class Ticket(NewTicket):
    ticket_id: str
    status: TicketStatus
    created_at: datetime


class CustomerProfile(Record):
    customer: Customer
    order_count: int
    orders: list[OrderSummary]  # newest first, up to the requested limit
    tickets: list[Ticket]  # newest first


class Page(Record, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Change(Record):
    """One executed sensitive action; `details` is what the store recorded, replayed on duplicates."""

    kind: ChangeKind
    order_number: str
    idempotency_key: str
    created_at: datetime
    details: dict[str, Any]
    duplicate: bool = False
