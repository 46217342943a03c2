"""StoreBackend on tau2-bench's retail database (`tau2-retail/db.json`), in memory, one copy per session.

Deskpilot's own tools (lookup, cancel_order, update_shipping_address, escalate_to_human) run on it
unchanged, and so do the retail changes tau2 adds (items, payment, return, exchange, the user's default
address), which Deskpilot's demo store does not offer. tau2's policy (`tools/tau2/policy.py`) is checked
here, inside every write, before the tool's own guard: no prompt reaches past it. Effects follow tau2's
retail tools exactly, so a final state hashes like tau2's expected one.

tau2 records map onto Deskpilot's: a user is a customer, `#W...` is the order number, `pending` is
`processing`, `processed` is `shipped`, an amount in dollars is cents. tau2 has no dates: records carry
`EPOCH`, and the tenant policy has no refund limit or daily cap (tau2's policy has neither).
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.backends.base import OrderGuard
from tools.errors import IdempotencyConflict, NotFound, order_not_found
from tools.policy import TenantPolicy
from tools.schemas import (
    Address,
    Change,
    Customer,
    CustomerProfile,
    NewTicket,
    Order,
    OrderItem,
    OrderSummary,
    Page,
    Payment,
    Refund,
    Ticket,
)
from tools.tau2 import policy as rules
from tools.tau2.errors import PolicyRefusal
from tools.tau2.store import RetailDB

TENANT = "tau2-retail"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
TAU2_POLICY = TenantPolicy(refund_limit_cents=10**12, max_refunds_per_day=10**9, shipping_countries=("US",))
STATUS = {
    "pending": "processing",
    "pending (item modified)": "processing",
    "processed": "shipped",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "return requested": "returned",
    "exchange requested": "delivered",
}
METHOD = {"credit_card": "card", "paypal": "paypal", "gift_card": "gift_card"}
COUNTRY_TO_ISO = {"USA": "US"}
ISO_TO_COUNTRY = {iso: name for name, iso in COUNTRY_TO_ISO.items()}
# Retail changes beyond the Protocol's three kinds; `Change.kind` stays the Protocol's vocabulary.
RETAIL_KINDS = ("modify_items", "modify_payment", "return", "exchange", "user_address")


def cents(amount: float) -> int:
    return round(float(amount) * 100)


def to_address(raw: dict[str, Any]) -> Address:
    return Address(
        street=raw["address1"],
        street2=raw.get("address2") or None,
        city=raw["city"],
        region=raw.get("state") or None,
        postal_code=raw["zip"],
        country=COUNTRY_TO_ISO.get(raw["country"], raw["country"]),
    )


def from_address(address: Address) -> dict[str, str]:
    """tau2's address shape, keys in tau2's order (address2 is "" when there is none)."""
    return {
        "address1": address.street,
        "address2": address.street2 or "",
        "city": address.city,
        "country": ISO_TO_COUNTRY.get(address.country, address.country),
        "state": address.region or "",
        "zip": address.postal_code,
    }


@dataclass(frozen=True)
class RetailChange:
    """One executed retail change (kinds in RETAIL_KINDS); `record` is the order or user afterwards."""

    kind: str
    target: str  # order id, or user id for user_address
    idempotency_key: str
    created_at: datetime
    record: dict[str, Any]
    duplicate: bool = False


@dataclass
class Tau2StoreBackend:
    db: RetailDB
    tickets: list[Ticket] = field(default_factory=list)
    _changes: dict[str, Change | RetailChange] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Tau2StoreBackend:
        return cls(RetailDB.load(path))

    def copy(self) -> Tau2StoreBackend:
        """A fresh store to write to (users and orders copied, products shared: no tool writes them)."""
        return Tau2StoreBackend(self.db.copy())

    def copy_for(self, order_id: str) -> Tau2StoreBackend:
        """A cheap copy for trying one write on one order (only it and its user are duplicated)."""
        return Tau2StoreBackend(self.db.copy_for(order_id))

    def state_hash(self) -> str:
        """sha256 of users and orders as canonical JSON, as tau2 compares end states."""
        text = json.dumps(self.db.state(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    # --- the Protocol -------------------------------------------------------------------------------
    def tenant_policy(self, tenant: str) -> TenantPolicy:
        return TAU2_POLICY

    def unit_of_work(self, session: Any) -> Tau2StoreBackend:
        """In memory, a write happens at once; the idempotency key makes a replay harmless."""
        return self

    def get_customer(self, tenant: str, customer_id: str) -> Customer | None:
        user = self.db.users.get(customer_id) if tenant == TENANT else None
        return _customer(user) if user else None

    def find_customer_by_email(self, tenant: str, email: str) -> Customer | None:
        wanted = email.strip().lower()
        for user in self.db.users.values() if tenant == TENANT else ():
            if user["email"].lower() == wanted:
                return _customer(user)
        return None

    def list_customers(
        self, tenant: str, *, query: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Customer]:
        needle = (query or "").strip().lower()
        found = [
            _customer(u)
            for _, u in sorted(self.db.users.items())
            if tenant == TENANT
            and (
                not needle
                or needle in _full_name(u).lower()
                or needle in u["email"].lower()
                or needle in u["user_id"].lower()
            )
        ]
        return Page[Customer](
            items=found[offset : offset + limit], total=len(found), limit=limit, offset=offset
        )

    def customer_profile(
        self, tenant: str, customer_id: str, *, order_limit: int = 50, ticket_limit: int = 10
    ) -> CustomerProfile | None:
        customer = self.get_customer(tenant, customer_id)
        if customer is None:
            return None
        orders = [self.db.orders[o] for o in self.db.users[customer_id]["orders"] if o in self.db.orders]
        summaries = [
            OrderSummary(
                order_number=o["order_id"],
                status=STATUS[o["status"]],  # type: ignore[arg-type]
                placed_at=EPOCH,
                delivered_at=EPOCH if o["status"] == "delivered" else None,
                total_cents=sum(cents(i["price"]) for i in o["items"]),
                currency="USD",
                item_count=len(o["items"]),
            )
            for o in orders[:order_limit]
        ]
        tickets = self.list_tickets(tenant, customer_id=customer_id, limit=ticket_limit).items
        return CustomerProfile(customer=customer, order_count=len(orders), orders=summaries, tickets=tickets)

    def get_order(self, tenant: str, order_number: str) -> Order | None:
        raw = self.db.orders.get(order_number) if tenant == TENANT else None
        return order_record(raw) if raw else None

    def create_ticket(self, tenant: str, ticket: NewTicket, *, now: datetime) -> Ticket:
        record = Ticket(
            **ticket.model_dump(),
            ticket_id=f"TCK-{10_000_000 + secrets.randbelow(90_000_000)}",
            status="open",
            created_at=now,
        )
        self.tickets.append(record)
        return record

    def get_ticket(self, tenant: str, ticket_id: str) -> Ticket | None:
        return next((t for t in self.tickets if t.ticket_id == ticket_id), None)

    def list_tickets(
        self, tenant: str, *, customer_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Ticket]:
        mine = [t for t in reversed(self.tickets) if customer_id is None or t.customer_id == customer_id]
        return Page[Ticket](items=mine[offset : offset + limit], total=len(mine), limit=limit, offset=offset)

    def find_change(self, tenant: str, idempotency_key: str) -> Change | None:
        change = self._changes.get(idempotency_key)
        return change.model_copy(update={"duplicate": True}) if isinstance(change, Change) else None

    def count_refunds_since(self, tenant: str, since: datetime) -> int:
        return 0  # tau2 has no stand-alone refunds: money goes back through cancel, modify and return

    def record_refund(
        self,
        tenant: str,
        customer_id: str,
        order_number: str,
        *,
        amount_cents: int,
        reason: str,
        note: str | None,
        idempotency_key: str,
        now: datetime,
        actor: str | None = None,
        guard: OrderGuard | None = None,
    ) -> Change:
        raise PolicyRefusal(
            "return",
            "This store refunds delivered items through a return (return_delivered_order_items), "
            "not a refund of an amount.",
        )

    def cancel_order(
        self,
        tenant: str,
        customer_id: str,
        order_number: str,
        *,
        reason: str,
        idempotency_key: str,
        now: datetime,
        actor: str | None = None,
        guard: OrderGuard | None = None,
    ) -> Change:
        done = self._replay(idempotency_key, "cancellation", order_number)
        if done is not None:
            return done
        order = self._owned(tenant, customer_id, order_number)
        rules.check_cancel(order, reason)
        _guard(guard, order)
        refunds = [
            {"transaction_type": "refund", "amount": p["amount"], "payment_method_id": p["payment_method_id"]}
            for p in order["payment_history"]
            if p["transaction_type"] == "payment"
        ]
        for refund in refunds:
            self._adjust_gift_card(order, refund["payment_method_id"], float(refund["amount"]))
        order["payment_history"].extend(refunds)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        details = {
            "status": "cancelled",
            "reason": reason,
            "refund_id": f"{order_number}-refund" if refunds else None,
            "refund_cents": sum(cents(r["amount"]) for r in refunds),
            "currency": "USD",
            "payment": ", ".join(r["payment_method_id"] for r in refunds) or "the original payment method",
        }
        return self._record(
            Change(
                kind="cancellation",
                order_number=order_number,
                idempotency_key=idempotency_key,
                created_at=now,
                details=details,
            )
        )

    def update_shipping_address(
        self,
        tenant: str,
        customer_id: str,
        order_number: str,
        *,
        address: Address,
        idempotency_key: str,
        now: datetime,
        actor: str | None = None,
        guard: OrderGuard | None = None,
    ) -> Change:
        done = self._replay(idempotency_key, "address_change", order_number)
        if done is not None:
            return done
        order = self._owned(tenant, customer_id, order_number)
        rules.check_modify_address(order)
        _guard(guard, order)
        order["address"] = from_address(address)
        return self._record(
            Change(
                kind="address_change",
                order_number=order_number,
                idempotency_key=idempotency_key,
                created_at=now,
                details={"shipping_address": address.model_dump()},
            )
        )

    # --- tau2's retail changes (beyond the Protocol) -------------------------------------------------
    def check_retail_change(
        self, tenant: str, customer_id: str, kind: str, target: str, **params: Any
    ) -> None:
        """tau2's policy for one change, without writing: what the approval flow runs before proposing."""
        if kind == "user_address":
            self._own_user(tenant, customer_id, target)
            return
        if kind == "cancellation":
            rules.check_cancel(self._owned(tenant, customer_id, target), params["reason"])
            return
        if kind == "address_change":
            rules.check_modify_address(self._owned(tenant, customer_id, target))
            return
        self._retail_check(kind, self._owned(tenant, customer_id, target), params)

    def retail_change(
        self,
        tenant: str,
        customer_id: str,
        kind: str,
        target: str,
        *,
        idempotency_key: str,
        now: datetime,
        actor: str | None = None,
        **params: Any,
    ) -> RetailChange:
        """Executes one of RETAIL_KINDS under tau2's policy; idempotent on `idempotency_key`."""
        if kind not in RETAIL_KINDS:
            raise ValueError(f"unknown retail change {kind!r}")
        seen = self._changes.get(idempotency_key)
        if seen is not None:
            if not isinstance(seen, RetailChange) or (seen.kind, seen.target) != (kind, target):
                raise IdempotencyConflict("This approval was already used for a different action.")
            return RetailChange(
                seen.kind, seen.target, seen.idempotency_key, seen.created_at, seen.record, True
            )
        if kind == "user_address":
            user = self._own_user(tenant, customer_id, target)
            user["address"] = from_address(params["address"])
            record = user
        else:
            order = self._owned(tenant, customer_id, target)
            difference = self._retail_check(kind, order, params)
            self._retail_apply(kind, order, params, difference)
            record = order
        change = RetailChange(kind, target, idempotency_key, now, copy.deepcopy(record))
        self._changes[idempotency_key] = change
        return change

    def order_details(self, order_id: str) -> dict[str, Any]:
        """The order as tau2 publishes it (items with product ids and options, payment history)."""
        return copy.deepcopy(self.db.order(order_id))

    def user_details(self, user_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.db.user(user_id))

    def product_details(self, product_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.db.product(product_id))

    def item_details(self, item_id: str) -> dict[str, Any]:
        product_id, variant = self.db.variant(item_id)
        return {**copy.deepcopy(variant), "product_id": product_id}

    def product_types(self) -> dict[str, str]:
        return {p["name"]: product_id for product_id, p in sorted(self.db.products.items())}

    # --- internals ----------------------------------------------------------------------------------
    def _owned(self, tenant: str, customer_id: str, order_number: str) -> dict[str, Any]:
        order = self.db.orders.get(order_number) if tenant == TENANT else None
        if order is None or order["user_id"] != customer_id:
            raise order_not_found(order_number)
        return order

    def _own_user(self, tenant: str, customer_id: str, user_id: str) -> dict[str, Any]:
        if tenant != TENANT or user_id != customer_id or user_id not in self.db.users:
            raise NotFound("Only the signed-in customer's own profile can be changed.")
        return self.db.users[user_id]

    def _replay(self, key: str, kind: str, order_number: str) -> Change | None:
        seen = self._changes.get(key)
        if seen is None:
            return None
        if not isinstance(seen, Change) or (seen.kind, seen.order_number) != (kind, order_number):
            raise IdempotencyConflict("This approval was already used for a different action.")
        return seen.model_copy(update={"duplicate": True})

    def _record(self, change: Change) -> Change:
        self._changes[change.idempotency_key] = change
        return change

    def _adjust_gift_card(self, order: dict[str, Any], payment_method_id: str, amount: float) -> None:
        method = self.db.user(order["user_id"])["payment_methods"][payment_method_id]
        if method["source"] == "gift_card":
            method["balance"] = round(float(method["balance"]) + amount, 2)

    def _retail_check(self, kind: str, order: dict[str, Any], p: dict[str, Any]) -> float:
        if kind == "modify_items":
            return rules.check_modify_items(
                self.db, order, p["item_ids"], p["new_item_ids"], p["payment_method_id"]
            )
        if kind == "exchange":
            return rules.check_exchange(
                self.db, order, p["item_ids"], p["new_item_ids"], p["payment_method_id"]
            )
        if kind == "modify_payment":
            rules.check_modify_payment(self.db, order, p["payment_method_id"])
            return 0.0
        if kind == "return":
            rules.check_return(self.db, order, p["item_ids"], p["payment_method_id"])
            return 0.0
        raise ValueError(f"unknown retail change {kind!r}")

    def _retail_apply(self, kind: str, order: dict[str, Any], p: dict[str, Any], difference: float) -> None:
        method_id = p["payment_method_id"]
        if kind == "modify_items":
            self._swap_items(order, p["item_ids"], p["new_item_ids"])
            # Recorded even when the difference is 0, as tau2's tool does, so end states compare.
            entry = "payment" if difference > 0 else "refund"
            order["payment_history"].append(
                {"transaction_type": entry, "amount": abs(difference), "payment_method_id": method_id}
            )
            self._adjust_gift_card(order, method_id, -difference)
            order["status"] = "pending (item modified)"
        elif kind == "modify_payment":
            original = next(x for x in order["payment_history"] if x["transaction_type"] == "payment")
            amount = float(original["amount"])
            order["payment_history"].extend(
                [
                    {"transaction_type": "payment", "amount": amount, "payment_method_id": method_id},
                    {
                        "transaction_type": "refund",
                        "amount": amount,
                        "payment_method_id": original["payment_method_id"],
                    },
                ]
            )
            self._adjust_gift_card(order, method_id, -amount)
            self._adjust_gift_card(order, original["payment_method_id"], amount)
        elif kind == "return":
            order["status"] = "return requested"
            order["return_items"] = sorted(p["item_ids"])
            order["return_payment_method_id"] = method_id
        elif kind == "exchange":
            order["status"] = "exchange requested"
            order["exchange_items"] = sorted(p["item_ids"])
            order["exchange_new_items"] = sorted(p["new_item_ids"])
            order["exchange_payment_method_id"] = method_id
            order["exchange_price_difference"] = difference

    def _swap_items(self, order: dict[str, Any], item_ids: list[str], new_item_ids: list[str]) -> None:
        for old_id, new_id in zip(item_ids, new_item_ids, strict=True):
            item = next(i for i in order["items"] if i["item_id"] == old_id)
            _, variant = self.db.variant(new_id)
            item.update(item_id=new_id, price=variant["price"], options=variant["options"])


def _guard(guard: OrderGuard | None, order: dict[str, Any]) -> None:
    if guard is not None:
        guard(order_record(order))


def _full_name(user: dict[str, Any]) -> str:
    return f"{user['name']['first_name']} {user['name']['last_name']}"


def _customer(user: dict[str, Any]) -> Customer:
    return Customer(
        customer_id=user["user_id"],
        name=_full_name(user),
        email=user["email"],
        phone=None,
        address=to_address(user["address"]),
        created_at=EPOCH,
    )


def order_record(raw: dict[str, Any]) -> Order:
    """A tau2 order as Deskpilot's `Order` (what lookup_order and the tools' policy guards read)."""
    subtotal = sum(cents(i["price"]) for i in raw["items"])
    payments = [
        Payment(
            method=METHOD.get(p["payment_method_id"].rsplit("_", 1)[0], "card"),  # type: ignore[arg-type]
            amount_cents=cents(p["amount"]),
            status="captured",
            created_at=EPOCH,
        )
        for p in raw["payment_history"]
        if p["transaction_type"] == "payment"
    ]
    refunds = [
        Refund(
            refund_id=f"{raw['order_id']}-refund-{n}",
            order_number=raw["order_id"],
            amount_cents=cents(p["amount"]),
            reason="tau2",
            status="pending",
            created_at=EPOCH,
        )
        for n, p in enumerate(raw["payment_history"])
        if p["transaction_type"] == "refund"
    ]
    status = STATUS[raw["status"]]
    return Order(
        order_number=raw["order_id"],
        customer_id=raw["user_id"],
        status=status,  # type: ignore[arg-type]
        placed_at=EPOCH,
        shipped_at=EPOCH if status in ("shipped", "delivered", "returned") else None,
        delivered_at=EPOCH if status in ("delivered", "returned") else None,
        cancelled_at=EPOCH if status == "cancelled" else None,
        tracking_number=next((t for f in raw["fulfillments"] for t in f.get("tracking_id", [])), None),
        shipping_address=to_address(raw["address"]),
        subtotal_cents=subtotal,
        shipping_cents=0,
        tax_cents=0,
        total_cents=subtotal,
        currency="USD",
        items=[
            OrderItem(sku=i["item_id"], name=i["name"], quantity=1, unit_price_cents=cents(i["price"]))
            for i in raw["items"]
        ],
        payments=payments,
        refunds=refunds,
    )
