"""lookup_order: an order's status, contents, delivery and money, for its own customer only."""

from __future__ import annotations

from typing import Any

from tools.access import owned_order
from tools.base import ToolContext, ToolSpec
from tools.fields import OrderNumber, ToolArgs
from tools.present import order_view


class LookupOrderArgs(ToolArgs):
    order_number: OrderNumber


def lookup_order(args: LookupOrderArgs, ctx: ToolContext) -> dict[str, Any]:
    return order_view(owned_order(ctx, args.order_number))


LOOKUP_ORDER = ToolSpec(
    name="lookup_order",
    description=(
        "Look up one of the signed-in customer's orders by its order number. Use it for any question "
        "about an order's status, contents, delivery or charges. Returns the status (processing, shipped, "
        "in_transit, delivered, cancelled or returned), items, order/shipping/delivery dates, carrier and "
        "tracking number, expected delivery, shipping address, totals, payment method and refunds so far."
    ),
    args_model=LookupOrderArgs,
    fn=lookup_order,
)
