"""Who may touch what: the trusted customer, their orders, the approval key and the tenant's policy."""

from __future__ import annotations

from tools.base import ToolContext
from tools.errors import ApprovalRequired, CustomerRequired, order_not_found
from tools.policy import TenantPolicy
from tools.schemas import Order


def require_customer(ctx: ToolContext) -> str:
    if ctx.customer_id is None:
        raise CustomerRequired(
            "This needs a signed-in customer, and this conversation has none; ask a support agent to help."
        )
    return ctx.customer_id


def owned_order(ctx: ToolContext, order_number: str) -> Order:
    """The order if it belongs to the request's customer and tenant; otherwise the same NotFound as a miss."""
    customer_id = require_customer(ctx)
    order = ctx.backend.get_order(ctx.tenant, order_number)
    if order is None or order.customer_id != customer_id:
        raise order_not_found(order_number)
    return order


def require_idempotency_key(ctx: ToolContext) -> str:
    """Sensitive tools execute only from the approval flow, which sets one key per approval."""
    if not ctx.idempotency_key:
        raise ApprovalRequired("This action runs only after a staff member approves it.")
    return ctx.idempotency_key


def tenant_policy(ctx: ToolContext) -> TenantPolicy:
    return ctx.policy or ctx.backend.tenant_policy(ctx.tenant)


def ownership_check(order: Order) -> str:
    return f"Order {order.order_number} belongs to the signed-in customer {order.customer_id}."
