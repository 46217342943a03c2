"""The seam between tools and the shop: what a store must offer, whoever runs it.

`SqlStoreBackend` implements it on the demo tables; an httpx client for a real commerce and
ticketing API implements the same Protocol, is named in `DESKPILOT_STORE_BACKEND`, and neither the
tools nor the runtime change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tools.policy import TenantPolicy
from tools.schemas import Address, Change, Customer, CustomerProfile, NewTicket, Order, Page, Ticket

# Runs on the order as the store sees it at write time (under its lock); raises PolicyViolation to refuse.
OrderGuard = Callable[[Order], object]


@runtime_checkable
class StoreBackend(Protocol):
    """Every method is scoped by tenant; writes also by customer, so a wrong id finds nothing.

    Write methods are idempotent on `idempotency_key`: a key seen before returns the stored `Change`
    with `duplicate=True` and writes nothing, even if the order has changed since. A key reused for a
    different order or kind raises IdempotencyConflict. A missing order (or another customer's)
    raises NotFound; `guard` raising PolicyViolation aborts the write.
    """

    def tenant_policy(self, tenant: str) -> TenantPolicy: ...

    def unit_of_work(self, session: Any) -> StoreBackend:
        """A view of the store for one approval's execution inside the app's transaction `session`.

        A store in the app's own database joins that transaction, so the change, the approval's status and
        its audit event commit together. A remote store writes at once; its idempotency key makes the
        replay after a crash harmless.
        """
        ...

    # --- customers ----------------------------------------------------------------------------------
    def get_customer(self, tenant: str, customer_id: str) -> Customer | None: ...

    def find_customer_by_email(self, tenant: str, email: str) -> Customer | None: ...

    def list_customers(
        self, tenant: str, *, query: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Customer]: ...

    def customer_profile(
        self, tenant: str, customer_id: str, *, order_limit: int = 50, ticket_limit: int = 10
    ) -> CustomerProfile | None: ...

    # --- orders -------------------------------------------------------------------------------------
    def get_order(self, tenant: str, order_number: str) -> Order | None: ...

    # --- tickets ------------------------------------------------------------------------------------
    def create_ticket(self, tenant: str, ticket: NewTicket, *, now: datetime) -> Ticket: ...

    def get_ticket(self, tenant: str, ticket_id: str) -> Ticket | None: ...

    def list_tickets(
        self, tenant: str, *, customer_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Ticket]: ...

    # --- changes (sensitive tools) ------------------------------------------------------------------
    def find_change(self, tenant: str, idempotency_key: str) -> Change | None: ...

    def count_refunds_since(self, tenant: str, since: datetime) -> int: ...

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
    ) -> Change: ...

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
    ) -> Change: ...

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
    ) -> Change: ...
