"""What the offline engine does first: tool calls planned from the customer's words, deterministically."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agent.offline.messages import message_text
from agent.prompts import is_customer_message

ORDER_RE = re.compile(r"\bORD-\d{6}\b")
INTENTS: dict[str, re.Pattern[str]] = {
    "human": re.compile(
        r"\b(human|real person|a person|someone|representative|supervisor|manager|speak to|talk to)\b", re.I
    ),
    "refund": re.compile(r"\b(refund|money back|reimburse|return(ed|ing)?|chargeback)\b", re.I),
    "cancel": re.compile(r"\bcancel", re.I),
    "status": re.compile(
        r"\b(where|status|track|tracking|shipped|shipping|deliver|delivery|arrive|late|when will)\b", re.I
    ),
}
EXPLICIT_REQUEST_RE = re.compile(
    r"\b(i want|i'd like|i would like|please|refund me|issue|process|go ahead|request it"
    r"|cancel (my|the|it|this))\b",
    re.I,
)
AFFIRMATIVE_RE = re.compile(r"^\W*(yes|yeah|yep|sure|ok(ay)?|please do|go ahead)\b", re.I)
OFFER_TO_REQUEST = "Would you like me to request it?"
REFUND_REASONS = (
    ("damaged", re.compile(r"\b(damaged|dented|cracked|torn)\b", re.I)),
    (
        "defective",
        re.compile(r"\b(defective|broken|faulty|doesn't work|does not work|stopped working)\b", re.I),
    ),
    ("wrong_item", re.compile(r"\bwrong (item|size|colou?r|product)\b", re.I)),
    ("not_as_described", re.compile(r"\bnot as (described|pictured|advertised)\b", re.I)),
    ("late_delivery", re.compile(r"\b(late|too long|delayed)\b", re.I)),
    ("changed_mind", re.compile(r"\b(changed my mind|don't need|do not need|no longer need)\b", re.I)),
)
ANGRY_RE = re.compile(r"\b(furious|unacceptable|ridiculous|angry|terrible|worst|scam|lawyer)\b", re.I)


def plan_tool_calls(question: str, history: list[BaseMessage], tool_names: set[str]) -> list[dict[str, Any]]:
    """Which tools a careful agent would call first, from the customer's words alone."""
    orders = ORDER_RE.findall(question)
    if not orders:  # "Can I get a refund for it?" refers to the order discussed earlier
        for message in reversed(history):
            if is_customer_message(message):
                earlier = ORDER_RE.findall(message_text(message))
                if earlier:
                    orders = earlier[-1:]
                    break
    wants = {name for name, pattern in INTENTS.items() if pattern.search(question)}
    if _accepts_offer(question, history):
        wants.add("refund")
    calls: list[dict[str, Any]] = []

    if "human" in wants and "escalate_to_human" in tool_names:
        category = "angry_customer" if ANGRY_RE.search(question) else "other"
        calls.append(
            _call(
                "escalate_to_human",
                reason_category=category,
                summary="Customer asked to speak with a person.",
            )
        )
        return calls
    for order in dict.fromkeys(orders):
        if ("refund" in wants or "cancel" in wants) and "lookup_refund" in tool_names:
            calls.append(_call("lookup_refund", order_number=order))
        elif "lookup_order" in tool_names and (ORDER_RE.search(question) or "status" in wants):
            calls.append(_call("lookup_order", order_number=order))
    return calls


def plan_change(question: str, this_turn: list[BaseMessage]) -> list[dict[str, Any]]:
    """After lookup_refund, propose what the customer explicitly asked for and the policy suggests:
    a refund for an eligible delivered order, a cancellation for one that has not shipped.

    Proposing is all the engine can do: the tool node checks policy and a staff member approves.
    """
    if any(
        isinstance(m, AIMessage) and any(c["name"] in ("issue_refund", "cancel_order") for c in m.tool_calls)
        for m in this_turn
    ):
        return []
    for message in this_turn:
        if not (isinstance(message, ToolMessage) and message.name == "lookup_refund"):
            continue
        try:
            data = json.loads(str(message.content))
        except json.JSONDecodeError:
            continue
        eligibility = data.get("eligibility") or {}
        if eligibility.get("suggested_action") == "cancel":
            return [_call("cancel_order", order_number=data["order_number"], reason="customer_request")]
        if eligibility.get("eligible") and eligibility.get("refundable_amount"):
            reason = next((name for name, pattern in REFUND_REASONS if pattern.search(question)), "other")
            return [
                _call(
                    "issue_refund",
                    order_number=data["order_number"],
                    amount=float(eligibility["refundable_amount"]),
                    reason=reason,
                )
            ]
    return []


def asks_for_change(question: str, history: list[BaseMessage]) -> bool:
    """An explicit request ('please cancel', 'I want a refund'), not a question about the policy."""
    wants_change = INTENTS["refund"].search(question) or INTENTS["cancel"].search(question)
    return bool(wants_change and EXPLICIT_REQUEST_RE.search(question)) or _accepts_offer(question, history)


def _accepts_offer(question: str, history: list[BaseMessage]) -> bool:
    """'Yes please' right after we offered to request the refund."""
    if not AFFIRMATIVE_RE.search(question):
        return False
    earlier = [m for m in history[:-1] if isinstance(m, AIMessage) and m.content]
    return bool(earlier) and OFFER_TO_REQUEST in str(earlier[-1].content)


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:16]}", "type": "tool_call"}
