"""StoreBackend on the demo shop's SQLModel tables (SQLite by default, PostgreSQL works the same)."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from tools.backends import sql_changes
from tools.backends.base import OrderGuard
from tools.backends.sql_changes import ChangeRequest
from tools.backends.sql_models import CustomerRow, OrderItemRow, OrderRow, RefundRow, TicketRow
from tools.backends.sql_records import customer_record, load_order, summary_record, ticket_record
from tools.errors import BackendUnavailable
from tools.policy import DEFAULT_POLICY, TenantPolicy
from tools.schemas import Address, Change, Customer, CustomerProfile, NewTicket, Order, Page, Ticket


def new_ticket_id() -> str:
    return f"TCK-{10_000_000 + secrets.randbelow(90_000_000)}"


class SqlStoreBackend:
    """The demo store. An httpx client for a commerce/ticketing API implements the same Protocol later.

    Each call runs in its own short transaction, except on a view from `in_transaction(session)`,
    which works inside the caller's session and never commits, so the approval flow can write its
    own record in the same transaction as the refund.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        policies: Mapping[str, TenantPolicy] | None = None,
        default_policy: TenantPolicy = DEFAULT_POLICY,
    ) -> None:
        self._engine = engine
        self._policies = dict(policies or {})
        self._default_policy = default_policy
        self._outer: Session | None = None

    def in_transaction(self, session: Session) -> SqlStoreBackend:
        """A view on the caller's (sqlmodel) session: flushes, never commits or rolls back."""
        view = copy.copy(self)
        view._outer = session
        return view

    def unit_of_work(self, session: Session) -> SqlStoreBackend:
        """The store shares the app's database, so its writes join the caller's transaction."""
        return self.in_transaction(session)

    def tenant_policy(self, tenant: str) -> TenantPolicy:
        return self._policies.get(tenant, self._default_policy)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            if self._outer is not None:
                yield self._outer
                self._outer.flush()
                return
            with Session(self._engine, expire_on_commit=False) as session:
                yield session
                session.commit()
        except OperationalError as exc:  # locked for too long, disk gone, server down
            raise BackendUnavailable(
                "The order system is unavailable right now; please try again shortly."
            ) from exc

    # --- customers ----------------------------------------------------------------------------------
    def get_customer(self, tenant: str, customer_id: str) -> Customer | None:
        with self._session() as s:
            row = s.exec(
                select(CustomerRow).where(
                    CustomerRow.tenant == tenant, CustomerRow.customer_id == customer_id
                )
            ).first()
            return customer_record(row) if row else None

    def list_customers(
        self, tenant: str, *, query: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Customer]:
        where: list[Any] = [CustomerRow.tenant == tenant]
        if query:
            where.append(
                col(CustomerRow.name).icontains(query, autoescape=True)
                | col(CustomerRow.email).icontains(query, autoescape=True)
                | col(CustomerRow.customer_id).icontains(query, autoescape=True)
            )
        with self._session() as s:
            total = s.exec(select(func.count()).select_from(CustomerRow).where(*where)).one()
            rows = s.exec(
                select(CustomerRow)
                .where(*where)
                .order_by(col(CustomerRow.customer_id))
                .offset(offset)
                .limit(limit)
            ).all()
            return Page[Customer](
                items=[customer_record(r) for r in rows], total=total, limit=limit, offset=offset
            )

    def find_customer_by_email(self, tenant: str, email: str) -> Customer | None:
        with self._session() as s:
            row = s.exec(
                select(CustomerRow).where(
                    CustomerRow.tenant == tenant, func.lower(CustomerRow.email) == email.strip().lower()
                )
            ).first()
            return customer_record(row) if row else None

    def customer_profile(
        self, tenant: str, customer_id: str, *, order_limit: int = 50, ticket_limit: int = 10
    ) -> CustomerProfile | None:
        with self._session() as s:
            row = s.exec(
                select(CustomerRow).where(
                    CustomerRow.tenant == tenant, CustomerRow.customer_id == customer_id
                )
            ).first()
            if row is None:
                return None
            mine = (OrderRow.tenant == tenant, OrderRow.customer_id == customer_id)
            count = s.exec(select(func.count()).select_from(OrderRow).where(*mine)).one()
            items = (
                select(OrderItemRow.order_id, func.sum(OrderItemRow.quantity).label("n"))
                .group_by(col(OrderItemRow.order_id))
                .subquery()
            )
            orders = s.exec(
                select(OrderRow, items.c.n)
                .outerjoin(items, items.c.order_id == OrderRow.id)
                .where(*mine)
                .order_by(col(OrderRow.placed_at).desc())
                .limit(order_limit)
            ).all()
            tickets = self.list_tickets(tenant, customer_id=customer_id, limit=ticket_limit).items
            return CustomerProfile(
                customer=customer_record(row),
                order_count=count,
                orders=[summary_record(o, int(n or 0)) for o, n in orders],
                tickets=tickets,
            )

    # --- orders -------------------------------------------------------------------------------------
    def get_order(self, tenant: str, order_number: str) -> Order | None:
        with self._session() as s:
            row = s.exec(
                select(OrderRow).where(OrderRow.tenant == tenant, OrderRow.order_number == order_number)
            ).first()
            return load_order(s, row) if row else None

    # --- tickets ------------------------------------------------------------------------------------
    def create_ticket(self, tenant: str, ticket: NewTicket, *, now: datetime) -> Ticket:
        row = TicketRow(
            tenant=tenant, ticket_id=new_ticket_id(), status="open", created_at=now, **ticket.model_dump()
        )
        with self._session() as s:
            s.add(row)
            s.flush()
            return ticket_record(row)

    def get_ticket(self, tenant: str, ticket_id: str) -> Ticket | None:
        with self._session() as s:
            row = s.exec(
                select(TicketRow).where(TicketRow.tenant == tenant, TicketRow.ticket_id == ticket_id)
            ).first()
            return ticket_record(row) if row else None

    def list_tickets(
        self, tenant: str, *, customer_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Ticket]:
        where: list[Any] = [TicketRow.tenant == tenant]
        if customer_id is not None:
            where.append(TicketRow.customer_id == customer_id)
        with self._session() as s:
            total = s.exec(select(func.count()).select_from(TicketRow).where(*where)).one()
            rows = s.exec(
                select(TicketRow)
                .where(*where)
                .order_by(col(TicketRow.created_at).desc(), col(TicketRow.id).desc())
                .offset(offset)
                .limit(limit)
            ).all()
            return Page[Ticket](
                items=[ticket_record(r) for r in rows], total=total, limit=limit, offset=offset
            )

    # --- changes ------------------------------------------------------------------------------------
    def count_refunds_since(self, tenant: str, since: datetime) -> int:
        with self._session() as s:
            return int(
                s.exec(
                    select(func.count())
                    .select_from(RefundRow)
                    .where(RefundRow.tenant == tenant, col(RefundRow.created_at) >= since)
                ).one()
            )

    def find_change(self, tenant: str, idempotency_key: str) -> Change | None:
        with self._session() as s:
            return sql_changes.find_change(s, tenant, idempotency_key)

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
        req = ChangeRequest(tenant, customer_id, order_number, "refund", idempotency_key, now, actor)
        plan = sql_changes.refund_planner(req, amount_cents=amount_cents, reason=reason, note=note)
        with self._session() as s:
            return sql_changes.execute_change(s, req, guard, plan)

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
        req = ChangeRequest(tenant, customer_id, order_number, "cancellation", idempotency_key, now, actor)
        with self._session() as s:
            return sql_changes.execute_change(s, req, guard, sql_changes.cancel_planner(req, reason=reason))

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
        req = ChangeRequest(tenant, customer_id, order_number, "address_change", idempotency_key, now, actor)
        with self._session() as s:
            return sql_changes.execute_change(s, req, guard, sql_changes.address_planner(address))
