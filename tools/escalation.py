"""escalate_to_human: hand the conversation to a person, with a ticket in the matching human queue."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools.access import owned_order
from tools.base import ReasonCategory, ToolContext, ToolSpec
from tools.fields import OrderNumber, ToolArgs
from tools.routing import open_ticket, subject_line
from tools.schemas import NewTicket

# Which human team picks each handoff up, and how fast.
HANDOFF_ROUTES: dict[str, tuple[str, str]] = {
    "billing_dispute": ("billing", "high"),
    "angry_customer": ("general", "high"),
    "policy_exception": ("returns", "normal"),
    "technical": ("technical", "normal"),
    "other": ("general", "normal"),
}


class EscalateToHumanArgs(ToolArgs):
    reason_category: ReasonCategory = Field(description="Why a person is needed.")
    summary: str = Field(
        min_length=3,
        max_length=1000,
        description="What the customer needs and what was tried, so the person does not have to ask again.",
    )
    order_number: OrderNumber | None = Field(default=None, description="The order it concerns, if any.")


def escalate_to_human(args: EscalateToHumanArgs, ctx: ToolContext) -> dict[str, Any]:
    if args.order_number is not None:
        owned_order(ctx, args.order_number)
    queue, priority = HANDOFF_ROUTES[args.reason_category]
    ticket = open_ticket(
        ctx,
        NewTicket(
            customer_id=ctx.customer_id,
            order_number=args.order_number,
            subject=subject_line(f"Handoff ({args.reason_category.replace('_', ' ')}): {args.summary}"),
            summary=args.summary,
            queue=queue,
            priority=priority,
            reason=args.reason_category,
            kind="escalation",
            conversation_id=ctx.conversation_id,
            actor=ctx.actor,
        ),
    )
    return {
        "handoff": True,
        "reason_category": args.reason_category,
        "ticket_id": ticket.ticket_id,
        "queue": queue,
        "priority": priority,
    }


ESCALATE_TO_HUMAN = ToolSpec(
    name="escalate_to_human",
    description=(
        "Hand this conversation to a human support agent. Use it when the customer asks for a person, is "
        "very upset, disputes a charge, needs an exception to the policy (such as a refund above the "
        "limit or outside the window), a parcel is lost, or you cannot resolve the issue. Creates a ticket "
        "for the right team; afterwards the copilot no longer answers on its own. Returns handoff true "
        "and the ticket id."
    ),
    args_model=EscalateToHumanArgs,
    fn=escalate_to_human,
)
