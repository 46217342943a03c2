"""route_ticket: file follow-up work for a support queue without handing the conversation over."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools.access import owned_order
from tools.base import Priority, Queue, ToolContext, ToolSpec
from tools.fields import OrderNumber, ToolArgs
from tools.schemas import NewTicket, Ticket


class RouteTicketArgs(ToolArgs):
    queue: Queue = Field(description="The team that should handle it.")
    priority: Priority = Field(default="normal", description="urgent only for safety or money lost now.")
    reason: str = Field(
        min_length=3,
        max_length=500,
        description="What the team needs to do and why, in one or two sentences.",
    )
    order_number: OrderNumber | None = Field(default=None, description="The order it concerns, if any.")


def subject_line(text: str, limit: int = 80) -> str:
    first = text.strip().splitlines()[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def open_ticket(ctx: ToolContext, ticket: NewTicket) -> Ticket:
    """Creates the ticket, or returns the open one this conversation already filed for the same thing.

    A turn cut short by a crash is run again from the customer's message (api/turns.py), so a tool that
    filed a ticket may run twice for one request; a second identical open ticket is never wanted either.
    """
    if ctx.conversation_id is not None:
        recent = ctx.backend.list_tickets(ctx.tenant, customer_id=ctx.customer_id, limit=50).items
        for existing in recent:
            if (
                existing.conversation_id == ctx.conversation_id
                and existing.status in ("open", "pending")
                and (existing.kind, existing.queue, existing.order_number)
                == (ticket.kind, ticket.queue, ticket.order_number)
            ):
                return existing
    return ctx.backend.create_ticket(ctx.tenant, ticket, now=ctx.now())


def route_ticket(args: RouteTicketArgs, ctx: ToolContext) -> dict[str, Any]:
    if args.order_number is not None:
        owned_order(ctx, args.order_number)
    ticket = open_ticket(
        ctx,
        NewTicket(
            customer_id=ctx.customer_id,
            order_number=args.order_number,
            subject=subject_line(args.reason),
            summary=args.reason,
            queue=args.queue,
            priority=args.priority,
            reason=args.reason,
            kind="routed",
            conversation_id=ctx.conversation_id,
            actor=ctx.actor,
        ),
    )
    return {
        "ticket_id": ticket.ticket_id,
        "queue": ticket.queue,
        "priority": ticket.priority,
        "status": ticket.status,
    }


ROUTE_TICKET = ToolSpec(
    name="route_ticket",
    description=(
        "File a follow-up ticket for a support team (billing, shipping, returns, technical, account or "
        "general) when something needs work outside this conversation, such as a carrier investigation "
        "or an account fix. The conversation stays with you; to hand it to a person use escalate_to_human "
        "instead. Returns the ticket id, queue, priority and status."
    ),
    args_model=RouteTicketArgs,
    fn=route_ticket,
)
