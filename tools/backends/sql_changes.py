"""Sensitive changes on the SQL store, each exactly once per idempotency key.

Order of a change, all in one transaction: lock the order row (first statement, so concurrent
changes of one order queue up), replay the key if it was seen, run the caller's policy guard on the
locked order, then write the change and its record inside a savepoint. The UNIQUE idempotency keys
are the last line of defence: a lost race rolls back the savepoint and replays the winner.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from tools.backends.base import OrderGuard
from tools.backends.sql_models import OrderChangeRow, OrderRow, RefundRow
from tools.backends.sql_records import change_record, load_order
from tools.errors import IdempotencyConflict, PolicyViolation, order_not_found
from tools.money import format_money
from tools.schemas import Address, Change, ChangeKind, Order

# Applies one change to the locked order: returns the details to record and the rows to add.
Planner = Callable[[OrderRow, Order], tuple[dict[str, Any], list[SQLModel]]]


@dataclass(frozen=True)
class ChangeRequest:
    tenant: str
    customer_id: str
    order_number: str
    kind: ChangeKind
    idempotency_key: str
    now: datetime
    actor: str | None = None


def new_refund_id() -> str:
    return f"RF-{secrets.token_hex(4).upper()}"


def find_change(s: Session, tenant: str, key: str) -> Change | None:
    row = s.exec(select(OrderChangeRow).where(OrderChangeRow.idempotency_key == key)).first()
    return change_record(row, duplicate=True) if row is not None and row.tenant == tenant else None


def execute_change(s: Session, req: ChangeRequest, guard: OrderGuard | None, plan: Planner) -> Change:
    row = _lock_order(s, req)
    if (done := _replay(s, req)) is not None:
        return done
    order = load_order(s, row)
    if guard is not None:
        guard(order)
    try:
        with s.begin_nested():  # a savepoint: a lost race must not spoil the caller's transaction
            details, rows = plan(row, order)
            record = OrderChangeRow(
                tenant=req.tenant,
                order_number=req.order_number,
                kind=req.kind,
                idempotency_key=req.idempotency_key,
                actor=req.actor,
                details=details,
                created_at=req.now,
            )
            s.add_all([*rows, record])
    except IntegrityError:
        # Another transaction committed the same key between our replay check and our insert.
        if (done := _replay(s, req)) is None:
            raise
        return done
    return change_record(record)


def _lock_order(s: Session, req: ChangeRequest) -> OrderRow:
    """Writes the order row before reading anything, which takes its lock (SQLite: the write lock)."""
    mine = (
        col(OrderRow.tenant) == req.tenant,
        col(OrderRow.order_number) == req.order_number,
        col(OrderRow.customer_id) == req.customer_id,
    )
    if s.exec(update(OrderRow).where(*mine).values(updated_at=req.now)).rowcount != 1:
        raise order_not_found(req.order_number)
    return s.exec(select(OrderRow).where(*mine).execution_options(populate_existing=True)).one()


def _replay(s: Session, req: ChangeRequest) -> Change | None:
    row = s.exec(select(OrderChangeRow).where(OrderChangeRow.idempotency_key == req.idempotency_key)).first()
    if row is None:
        return None
    if (row.tenant, row.kind, row.order_number) != (req.tenant, req.kind, req.order_number):
        raise IdempotencyConflict("This approval was already used for a different action.")
    return change_record(row, duplicate=True)


def _payment_label(order: Order) -> str:
    payment = order.original_payment
    return payment.label if payment else "the original payment method"


def refund_planner(req: ChangeRequest, *, amount_cents: int, reason: str, note: str | None) -> Planner:
    def plan(row: OrderRow, order: Order) -> tuple[dict[str, Any], list[SQLModel]]:
        left = order.paid_cents - order.refunded_cents
        if not 0 < amount_cents <= left:  # the money invariant holds whatever the guard decided
            raise PolicyViolation(
                f"The most that can be refunded on order {order.order_number} is "
                f"{format_money(left, order.currency)}."
            )
        refund = RefundRow(
            tenant=req.tenant,
            refund_id=new_refund_id(),
            order_id=row.id,  # type: ignore[arg-type]
            amount_cents=amount_cents,
            reason=reason,
            note=note,
            status="pending",
            created_at=req.now,
            idempotency_key=req.idempotency_key,
        )
        details = {
            "refund_id": refund.refund_id,
            "amount_cents": amount_cents,
            "currency": order.currency,
            "reason": reason,
            "status": "pending",
            "payment": _payment_label(order),
            "refunded_total_cents": order.refunded_cents + amount_cents,
        }
        return details, [refund]

    return plan


def cancel_planner(req: ChangeRequest, *, reason: str) -> Planner:
    def plan(row: OrderRow, order: Order) -> tuple[dict[str, Any], list[SQLModel]]:
        if order.status != "processing":
            raise PolicyViolation(f"Order {order.order_number} can no longer be cancelled ({order.status}).")
        back = max(0, order.paid_cents - order.refunded_cents)
        row.status, row.cancelled_at, row.cancel_reason = "cancelled", req.now, reason
        rows: list[SQLModel] = [row]
        refund_id = None
        if back:
            refund_id = new_refund_id()
            rows.append(
                RefundRow(
                    tenant=req.tenant,
                    refund_id=refund_id,
                    order_id=row.id,  # type: ignore[arg-type]
                    amount_cents=back,
                    reason="order_cancelled",
                    status="pending",
                    created_at=req.now,
                    idempotency_key=req.idempotency_key,
                )
            )
        details = {
            "status": "cancelled",
            "reason": reason,
            "refund_id": refund_id,
            "refund_cents": back,
            "currency": order.currency,
            "payment": _payment_label(order),
        }
        return details, rows

    return plan


def address_planner(address: Address) -> Planner:
    def plan(row: OrderRow, order: Order) -> tuple[dict[str, Any], list[SQLModel]]:
        if order.status != "processing":
            raise PolicyViolation(f"Order {order.order_number} has shipped; its address can't change now.")
        row.ship_street, row.ship_street2, row.ship_city = address.street, address.street2, address.city
        row.ship_region, row.ship_postal_code, row.ship_country = (
            address.region,
            address.postal_code,
            address.country,
        )
        return {"shipping_address": address.model_dump()}, [row]

    return plan
