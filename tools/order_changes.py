"""cancel_order and update_shipping_address: sensitive changes to an order that has not shipped yet."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tools.access import (
    owned_order,
    ownership_check,
    require_customer,
    require_idempotency_key,
    tenant_policy,
)
from tools.base import ToolContext, ToolSpec
from tools.errors import IdempotencyConflict
from tools.fields import CountryCode, OrderNumber, PostalCode, ToolArgs
from tools.money import decimal_str
from tools.policy import check_address_change, check_cancellation, refund_arrival
from tools.present import day
from tools.schemas import Address, Order

CancelReason = Literal[
    "customer_request", "ordered_by_mistake", "found_better_price", "delivery_too_slow", "other"
]


class CancelOrderArgs(ToolArgs):
    order_number: OrderNumber
    reason: CancelReason = Field(description="Why the customer wants to cancel.")


def check_cancel_order(args: CancelOrderArgs, ctx: ToolContext) -> list[str]:
    order = owned_order(ctx, args.order_number)
    return [ownership_check(order), *check_cancellation(order, ctx.now(), tenant_policy(ctx))]


def cancel_order(args: CancelOrderArgs, ctx: ToolContext) -> dict[str, Any]:
    key, customer_id = require_idempotency_key(ctx), require_customer(ctx)
    policy, now = tenant_policy(ctx), ctx.now()

    def guard(order: Order) -> None:
        check_cancellation(order, now, policy)

    change = ctx.backend.cancel_order(
        ctx.tenant,
        customer_id,
        args.order_number,
        reason=args.reason,
        idempotency_key=key,
        now=now,
        actor=ctx.actor,
        guard=guard,
    )
    details = change.details
    result: dict[str, Any] = {
        "executed": True,
        "duplicate": change.duplicate,
        "order_number": change.order_number,
        "status": "cancelled",
        "refund_id": details["refund_id"],
        "refund_amount": decimal_str(details["refund_cents"]),
        "currency": details["currency"],
    }
    if details["refund_id"]:
        low, high = refund_arrival(change.created_at, policy)
        result |= {"refunded_to": details["payment"], "arrives_between": [day(low), day(high)]}
    return result


class UpdateShippingAddressArgs(ToolArgs):
    order_number: OrderNumber
    street: str = Field(min_length=3, max_length=200, description="Street and house number.")
    street2: str | None = Field(default=None, max_length=100, description="Apartment, suite or unit.")
    city: str = Field(min_length=1, max_length=100, description="City or town.")
    region: str | None = Field(default=None, max_length=100, description="State or province.")
    postal_code: PostalCode
    country: CountryCode

    def address(self) -> Address:
        return Address(**self.model_dump(exclude={"order_number"}))


def check_update_shipping_address(args: UpdateShippingAddressArgs, ctx: ToolContext) -> list[str]:
    order = owned_order(ctx, args.order_number)
    return [ownership_check(order), *check_address_change(order, args.address(), tenant_policy(ctx))]


def update_shipping_address(args: UpdateShippingAddressArgs, ctx: ToolContext) -> dict[str, Any]:
    key, customer_id = require_idempotency_key(ctx), require_customer(ctx)
    policy, address = tenant_policy(ctx), args.address()

    def guard(order: Order) -> None:
        check_address_change(order, address, policy)

    change = ctx.backend.update_shipping_address(
        ctx.tenant,
        customer_id,
        args.order_number,
        address=address,
        idempotency_key=key,
        now=ctx.now(),
        actor=ctx.actor,
        guard=guard,
    )
    if change.details["shipping_address"] != address.model_dump():
        raise IdempotencyConflict("This approval was already used for a different address.")
    return {
        "executed": True,
        "duplicate": change.duplicate,
        "order_number": change.order_number,
        "shipping_address": change.details["shipping_address"],
    }


CANCEL_ORDER = ToolSpec(
    name="cancel_order",
    description=(
        "Propose cancelling one of the signed-in customer's orders that has not shipped yet (status "
        "processing); the full amount paid goes back to the original payment method. Shipped orders "
        "cannot be cancelled. Policy is checked first and a refusal explains why. A staff member must "
        "approve the cancellation before it happens, so tell the customer it is awaiting review."
    ),
    args_model=CancelOrderArgs,
    fn=cancel_order,
    sensitive=True,
    check=check_cancel_order,
)

UPDATE_SHIPPING_ADDRESS = ToolSpec(
    name="update_shipping_address",
    description=(
        "Propose a new shipping address for one of the signed-in customer's orders that has not shipped "
        "yet (status processing). Give the complete new address. Policy is checked first and a refusal "
        "explains why. A staff member must approve the change before it happens."
    ),
    args_model=UpdateShippingAddressArgs,
    fn=update_shipping_address,
    sensitive=True,
    check=check_update_shipping_address,
)
